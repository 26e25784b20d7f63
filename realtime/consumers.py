"""The ``ws/metrics/`` consumer: live metric updates per source, over the channel layer.

The protocol is described in docs/websocket-protocol.md. In short: the client ``subscribe``s to
sources (or all), gets one ``snapshot`` reply with the current state of each, then an ``update``
for every change the poller stores, ``source_status`` and ``alert`` messages for its sources, and
may ``get`` snapshots or page through ``history`` at any time. Every request is answered by exactly
one message (``snapshot``, ``unsubscribed``, ``history``, ``pong`` or ``error``) carrying the request's ``id``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable
from datetime import datetime
from enum import IntEnum
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from metrics.jsonlimits import websocket_budget
from metrics.serialization import WEBSOCKET_FORM, history_entry_json
from metrics.stores import get_store
from metrics.stores.base import HistoryPage, Snapshot, StoreError
from observability.access_log import DIRECT_WRITER
from observability.instruments import WEBSOCKET_CONNECTIONS, WEBSOCKET_CONNECTS, WEBSOCKET_MESSAGES_SENT
from realtime import connection_caps
from realtime.access import ACCESS, Access
from realtime.auth import ACCESS_SCOPE_KEY, select_subprotocol
from realtime.encoding import CLIENT_TYPES, dumps
from realtime.groups import ALL_GROUP, source_group
from realtime.hub import LocalHub, hub_for
from realtime.offload import in_worker
from realtime.protocol import (
    ErrorCode,
    Get,
    History,
    Known,
    Ping,
    ProtocolError,
    Request,
    Subscribe,
    Unsubscribe,
    decode,
    error_message,
    parse,
)
from realtime.ratelimit import TokenBucket
from realtime.shared_reads import SharedReads
from realtime.snapshot_text import reply_text, snapshot_text
from realtime.source_teams import SOURCE_TEAMS, Unknown
from realtime.watcher import StoreWatcher, watcher_for

logger = logging.getLogger(__name__)


class CloseCode(IntEnum):
    # A message over REALTIME_MAX_MESSAGE_BYTES. Under daphne the transport closes with 1009 before
    # the message is read (realtime/transport.py); an application may not send 1009 there, so this
    # check, for other servers, uses the private-use code.
    MESSAGE_TOO_BIG = 4009
    TOO_MANY_CONNECTIONS = 4409  # over REALTIME_MAX_CONNECTIONS_PER_USER or _PER_TOKEN
    UNAUTHENTICATED = 4401  # no session and no valid token, or it was revoked while connected
    RATE_LIMITED = 4429  # kept sending while rate limited


# --- Reads: the access cache and the read cache answer from the shared cache on a worker thread; -----
# --- only what they cannot answer goes through the database thread (database_sync_to_async) --------


async def _cached_snapshots(slugs: tuple[str, ...]) -> tuple[dict[str, Snapshot], list[str]]:
    return await in_worker(get_store().cached_latest_of, slugs)


async def _stored_snapshots(slugs: tuple[str, ...]) -> dict[str, Snapshot]:
    return await database_sync_to_async(get_store().latest_of)(slugs)


# A reconnect storm subscribes hundreds of connections to the same sources at once: they share each
# read, and every read began after the subscribe that waits for it joined its groups (see subscribe).
CACHED_SNAPSHOTS: SharedReads[tuple[str, ...], tuple[dict[str, Snapshot], list[str]]] = SharedReads(_cached_snapshots)
STORED_SNAPSHOTS: SharedReads[tuple[str, ...], dict[str, Snapshot]] = SharedReads(_stored_snapshots)


async def read_snapshots(slugs: list[str]) -> dict[str, Snapshot]:
    """The latest snapshots of the connection's known sources (never every source's).

    The read cache answers what it holds from a worker thread; only the sources it could not answer
    are read from the store, in one read through the database thread. A reconnect storm of clients
    of the same sources then never queues on that one thread, and concurrent subscribes to the same
    sources share one read of each kind (realtime/shared_reads.py).
    """
    cached, missing = await CACHED_SNAPSHOTS.read(tuple(slugs))
    found = dict(cached)  # shared with the other readers: never changed in place
    if missing:
        found.update(await STORED_SNAPSHOTS.read(tuple(missing)))
    return found


@database_sync_to_async
def read_history(request: History) -> HistoryPage:
    return get_store().history(request.source, request.start, request.end, request.limit, request.cursor)


@database_sync_to_async
def session_alive(scope: dict[str, Any]) -> bool:
    """Whether a session connection's session still exists (not logged out, not expired)."""
    session = scope.get("session")
    return session is not None and session.session_key is not None and bool(session.exists(session.session_key))


async def settled(outcome: bool | Awaitable[bool]) -> bool:
    """The outcome of a delivery that may have finished already (a bool) or may still have to be awaited."""
    return outcome if isinstance(outcome, bool) else await outcome


class Revoked(Exception):
    """The connection's credentials no longer hold (token revoked or expired, user deactivated or gone)."""


class MetricsConsumer(AsyncWebsocketConsumer):
    # No channel of its own (``__call__`` below sets none): group events come through the process's
    # LocalHub (realtime/hub.py), which hands them to receive_event.

    # Class defaults: disconnect() can run for a connection that connect() refused early.
    maintenance: asyncio.Task[None] | None = None
    watcher: StoreWatcher | None = None
    hub: LocalHub | None = None
    joined_groups: set[str] = set()  # replaced per instance in connect()
    counted = False  # in the open-connections gauge
    slot: connection_caps.Slot | None = None  # held against the per-user and per-token caps
    slot_keeper: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.all_sources = False
        self.subscribed: set[str] = set()  # explicit subscriptions (when not all_sources)
        self.excluded: set[str] = set()  # unsubscribed while subscribed to all
        # What this connection may read (realtime/access.py), looked up at connect and again at every
        # request and by maintain(). Each event's source team (realtime/source_teams.py, in memory) is
        # checked against its teams, never with a query.
        self.access: Access | None = None
        self.allowed_teams: frozenset[int] | None = frozenset()
        self.joined_groups = set()
        # Last sequence sent per source, with its fetched_at as sent: drops an update the snapshot already
        # covered (see ``_advance``).
        self.sequences: dict[str, tuple[int, str]] = {}
        rate = settings.REALTIME_MAX_MESSAGES_PER_SECOND
        self.bucket = TokenBucket(rate=rate, burst=rate)
        self.dropped_in_a_row = 0
        self.closing = False
        # While a subscribe reads its snapshots, events wait here so that the snapshot goes first.
        self.buffering = False
        self.buffered: list[tuple[dict[str, Any], str]] = []
        self.layer = get_channel_layer()

        subprotocol = select_subprotocol(self.scope)
        user = self.scope.get("user")
        # A token's access was looked up with the token (realtime/auth.py); a session's is its user's.
        access = None
        if user is not None and user.is_authenticated:
            access = self.scope.get(ACCESS_SCOPE_KEY) or await ACCESS.for_user(user)
        if access is None:
            # Accept, then close: a close before accepting becomes an HTTP 403 that browsers report
            # as a bare 1006, and the client could not tell "log in again" from "network trouble".
            await self.accept(subprotocol)
            await self.close_with(CloseCode.UNAUTHENTICATED)
            WEBSOCKET_CONNECTS.labels(result="refused").inc()
            return
        self.slot, refusal = await connection_caps.take(self.scope)
        if refusal is not None:
            await self.accept(subprotocol)
            await self.close_with(CloseCode.TOO_MANY_CONNECTIONS, refusal)
            WEBSOCKET_CONNECTS.labels(result="refused").inc()
            return
        if self.slot is not None:
            self.slot_keeper = asyncio.create_task(connection_caps.keep(self.slot))
        self.use(access)
        await SOURCE_TEAMS.refresh_if_older(settings.REALTIME_REAUTH_INTERVAL)
        self.maintenance = asyncio.create_task(self.maintain())
        interval = settings.REALTIME_STORE_WATCH_INTERVAL
        if isinstance(self.layer, InMemoryChannelLayer) and interval > 0:
            self.watcher = watcher_for(self.layer, interval)
            self.watcher.acquire()
        await self.accept(subprotocol)
        WEBSOCKET_CONNECTS.labels(result="accepted").inc()
        WEBSOCKET_CONNECTIONS.inc()
        self.counted = True

    async def disconnect(self, code: int) -> None:
        if self.counted:
            WEBSOCKET_CONNECTIONS.dec()
            self.counted = False
        if self.maintenance is not None:
            self.maintenance.cancel()
        if self.slot_keeper is not None:
            self.slot_keeper.cancel()
        if self.slot is not None:
            slot, self.slot = self.slot, None
            await connection_caps.release(slot)
        if self.watcher is not None:
            self.watcher.release()
            self.watcher = None
        if self.hub is not None:
            for group in list(self.joined_groups):
                await self.hub.leave(group, self)
        self.joined_groups = set()

    async def release_held(self) -> None:
        """``disconnect``'s clean-up after a handler raised; never raises over the handler's exception."""
        try:
            await self.disconnect(1011)  # what servers close with when the application fails
        except Exception:
            logger.exception("realtime: releasing a failed connection's slot and groups failed")

    async def close_with(self, code: CloseCode, reason: str | None = None) -> None:
        self.closing = True
        await self.close(code=int(code), reason=reason)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' ``AsyncConsumer.__call__`` for a consumer without a channel of its own.

        Channels reads each message through a new task and an ``asyncio.wait`` on it
        (``await_many_dispatch``), made for waiting on the connection and a channel at once; with only
        the connection to read, a plain loop handles the same messages in the same order, and an idle
        connection holds no pending task, future and callbacks for the collector to keep tracking.
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # A handler that raised ends the connection without a websocket.disconnect reaching
            # disconnect(): a reply sent to a client that had gone (uvicorn raises ClientDisconnected and
            # drops it silently), a database error in connect() after the slot was taken. Whatever the
            # connection holds is given back here, or its cap slot, renewal task, hub membership and store
            # watcher would stay for the life of the process, and the user would be refused with 4409 once
            # enough of them had piled up. disconnect() is idempotent, so a clean close releases once.
            await self.release_held()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its thread hop to ``close_old_connections`` before every message.

        That hop runs on the one thread-sensitive worker thread, so each handshake queued two of them
        (connect, then its subscribe) behind every other connection's during a reconnect storm. Every
        database access here goes through ``database_sync_to_async``, which closes stale connections
        itself, so the hop bought nothing.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Channels' handler without its thread hop to ``close_old_connections`` after ``disconnect``.

        The same hop as in ``dispatch``: when many clients drop at once (a network blip, a load
        balancer's restart), each disconnect queued one on the thread-sensitive worker thread, ahead of
        the reconnecting handshakes that need that thread. This consumer joins no channel-layer group
        (the hub keeps its groups, left in ``disconnect``).
        """
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_encoded(message.get("type", "unknown"), dumps(message))

    async def send_encoded(self, kind: str, text: str) -> None:
        await self.send(text_data=text)
        WEBSOCKET_MESSAGES_SENT.labels(type=kind).inc()

    # --- Client messages -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        wait = self.bucket.take()
        if wait:
            await self.refuse_over_rate(wait)
            return
        self.dropped_in_a_row = 0
        if text_data is None:
            await self.send_json(
                error_message(ErrorCode.BINARY_NOT_SUPPORTED, "send JSON text messages, not binary ones")
            )
            return
        limit = settings.REALTIME_MAX_MESSAGE_BYTES
        # Characters never outnumber bytes, so only a short-enough text needs encoding to be sure.
        if len(text_data) > limit or len(text_data.encode()) > limit:
            await self.send_json(error_message(ErrorCode.MESSAGE_TOO_LARGE, f"a message may be at most {limit} bytes"))
            await self.close_with(CloseCode.MESSAGE_TOO_BIG)
            return
        request_id = None
        try:
            message = decode(text_data, websocket_budget())
            request_id = message.get("id") if isinstance(message.get("id"), str | int) else None
            request = parse(message, settings.REALTIME_HISTORY_MAX_LIMIT)
            await self.handle(request)
        except ProtocolError as exc:
            await self.send_json(exc.as_message())
        except Revoked:
            logger.info("realtime: closing a connection whose credentials were revoked")
            await self.close_with(CloseCode.UNAUTHENTICATED)
        except StoreError as exc:
            logger.warning("realtime: store unavailable: %s", exc)
            await self.send_json(self.unavailable("the metric store is unavailable", request_id))
        except Exception:
            logger.exception("realtime: request failed")
            await self.send_json(error_message(ErrorCode.INTERNAL_ERROR, "the request failed", request_id))

    async def refuse_over_rate(self, wait: float) -> None:
        self.dropped_in_a_row += 1
        rate = settings.REALTIME_MAX_MESSAGES_PER_SECOND
        if self.dropped_in_a_row >= rate:
            # A second's worth of messages ignored in a row: this client is not listening to errors.
            await self.close_with(CloseCode.RATE_LIMITED)
        elif self.dropped_in_a_row == 1:
            # One error per burst, so a flood cannot make the server send a flood back.
            await self.send_json(
                error_message(
                    ErrorCode.RATE_LIMITED,
                    f"more than {rate} messages per second; this one was dropped",
                    retry_after_ms=max(1, math.ceil(wait * 1000)),
                )
            )

    def unavailable(self, message: str, request_id: str | int | None) -> dict[str, Any]:
        return error_message(ErrorCode.UNAVAILABLE, message, request_id, settings.REALTIME_RETRY_AFTER_MS)

    async def handle(self, request: Request) -> None:
        if isinstance(request, Subscribe):
            await self.subscribe(request)
        elif isinstance(request, Unsubscribe):
            await self.unsubscribe(request)
        elif isinstance(request, Get):
            await self.get(request)
        elif isinstance(request, History):
            await self.history(request)
        elif isinstance(request, Ping):
            # No read, no await on anything but the socket: a pong proves the process is running.
            await self.send_json({"type": "pong", **({"id": request.id} if request.id is not None else {})})

    async def known_sources(self, slugs: tuple[str, ...] | list[str] | None, request_id: str | int | None) -> list[str]:
        """``slugs`` (or every readable source when None) if the connection may read them all.

        Another team's source gets the same ``unknown_source`` as a missing one: the answer never tells
        which slugs exist elsewhere.
        """
        access = await self.current_access()
        # Here, on a request, so that the events that follow need no read.
        await SOURCE_TEAMS.refresh_if_older(settings.REALTIME_REAUTH_INTERVAL)
        if slugs is None:
            return sorted(access.sources)
        missing = [slug for slug in slugs if not access.may_read(slug)]
        if missing:
            raise ProtocolError(ErrorCode.UNKNOWN_SOURCE, f"unknown source: {', '.join(missing[:20])}", request_id)
        return list(slugs)

    def use(self, access: Access) -> None:
        self.access = access
        self.allowed_teams = access.teams

    async def current_access(self) -> Access:
        """The connection's access as it stands now (exact: a change anywhere shows at once); raises Revoked."""
        access = None if self.access is None else await ACCESS.current(self.access)
        if access is None:
            raise Revoked
        self.use(access)
        return access

    async def subscribe(self, request: Subscribe) -> None:
        slugs = await self.known_sources(request.sources, request.id)
        if request.sources is None:
            self.all_sources = True
            self.subscribed.clear()
            self.excluded.clear()
        elif self.all_sources:
            self.excluded.difference_update(slugs)
        else:
            self.subscribed.update(slugs)
        # Join before reading: an update stored meanwhile is then buffered, and the sequence check
        # in handle_event drops it if the snapshot below already includes it.
        self.buffering = True
        try:
            try:
                await self.sync_groups()
            except Exception as exc:
                logger.warning("realtime: joining groups failed: %s", type(exc).__name__)
                raise ProtocolError(
                    ErrorCode.UNAVAILABLE,
                    "live updates are unavailable",
                    request.id,
                    settings.REALTIME_RETRY_AFTER_MS,
                ) from None
            await self.send_encoded("snapshot", await self.snapshot_reply(slugs, request.known, request.id))
        finally:
            await self.flush_buffered()

    async def unsubscribe(self, request: Unsubscribe) -> None:
        if request.sources is None:
            self.all_sources = False
            self.subscribed.clear()
            self.excluded.clear()
            self.sequences.clear()
        else:
            if self.all_sources:
                self.excluded.update(request.sources)
            self.subscribed.difference_update(request.sources)
            for slug in request.sources:
                self.sequences.pop(slug, None)
        await self.sync_groups()
        await self.send_json(
            {
                "type": "unsubscribed",
                **({"id": request.id} if request.id is not None else {}),
                "sources": "all" if request.sources is None else list(request.sources),
                **self.subscription_state(),
            }
        )

    async def get(self, request: Get) -> None:
        slugs = await self.known_sources(None if request.source is None else [request.source], request.id)
        await self.send_encoded("snapshot", await self.snapshot_reply(slugs, {}, request.id, subscribing=False))

    async def history(self, request: History) -> None:
        await self.known_sources([request.source], request.id)
        try:
            page = await read_history(request)
        except ValueError:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, '"cursor" is not valid for this history', request.id) from None
        await self.send_json(
            {
                "type": "history",
                **({"id": request.id} if request.id is not None else {}),
                "source": request.source,
                "entries": [
                    history_entry_json(entry, with_payload=request.include_payload, form=WEBSOCKET_FORM)
                    for entry in page.entries
                ],
                "next_cursor": page.next_cursor,
            }
        )

    async def snapshot_reply(
        self, slugs: list[str], known: dict[str, Known], request_id: str | int | None, subscribing: bool = True
    ) -> str:
        snapshots = await read_snapshots(slugs) if slugs else {}
        sent: list[str] = []
        unchanged: list[str] = []
        pending: list[str] = []
        for slug in slugs:
            snapshot = snapshots.get(slug)
            if snapshot is None:
                pending.append(slug)  # registered, not polled successfully yet
                continue
            if subscribing:
                self._advance(slug, snapshot.sequence, WEBSOCKET_FORM.time(snapshot.fetched_at))
            have = known.get(slug)
            if have is not None and have.hash == snapshot.hash and have.sequence in (None, snapshot.sequence):
                unchanged.append(slug)
                continue
            sent.append(snapshot_text(snapshot))  # encoded once per process, shared by every viewer
        reply: dict[str, Any] = {"type": "snapshot"}
        if request_id is not None:
            reply["id"] = request_id
        reply.update(unchanged=unchanged, pending=pending)
        if subscribing:
            reply.update(self.subscription_state())
        return reply_text(reply, sent)

    def subscription_state(self) -> dict[str, Any]:
        if self.all_sources:
            return {"subscribed": "all", "excluded": sorted(self.excluded)}
        return {"subscribed": sorted(self.subscribed)}

    def wants(self, slug: str) -> bool:
        if self.all_sources:
            return slug not in self.excluded
        return slug in self.subscribed

    async def sync_groups(self) -> None:
        wanted = {ALL_GROUP} if self.all_sources else {source_group(slug) for slug in self.subscribed}
        if wanted == self.joined_groups:
            return
        if self.layer is None:
            raise RuntimeError("no channel layer is configured")
        self.hub = self.hub or hub_for(self.layer)
        for group in sorted(wanted - self.joined_groups):
            await self.hub.join(group, self)
            self.joined_groups.add(group)
        for group in sorted(self.joined_groups - wanted):
            await self.hub.leave(group, self)
            self.joined_groups.discard(group)

    # --- Channel-layer events (sent by realtime.events, handed over by the LocalHub) -----------

    def receive_event(self, event: dict[str, Any], text: str) -> bool | Awaitable[bool]:
        """``text`` is the event's client message, encoded once for every connection by the hub.

        True when it was sent now: the hub counts the messages of one fan-out at once, since a
        Prometheus label lookup per connection was a fifth of this path's cost. Not a coroutine: the
        hub calls it for every connection of a group, and the usual event (a known source, a socket the
        direct writer takes) is decided and written without one; an awaitable comes back only when
        the source's team must be read first or the ordinary send is needed.
        """
        if self.closing:
            return False
        if self.buffering:
            self.buffered.append((event, text))
            return False
        return self.handle_event(event, text)

    def handle_event(self, event: dict[str, Any], text: str) -> bool | Awaitable[bool]:
        client_type = CLIENT_TYPES.get(event.get("type", ""))
        slug = event.get("source")
        if client_type is None or not isinstance(slug, str) or not self.wants(slug):
            return False
        # May the connection see events of this source: its team is one the connection reads.
        if self.allowed_teams is not None:
            team = SOURCE_TEAMS.known_team(slug)
            if isinstance(team, Unknown):
                return self._handle_after_reading_teams(event, text, slug)
            if team not in self.allowed_teams:
                return False
        return self._send_event(event, text, slug, client_type)

    async def _handle_after_reading_teams(self, event: dict[str, Any], text: str, slug: str) -> bool:
        allowed = self.allowed_teams
        if allowed is not None and await SOURCE_TEAMS.team_of(slug) not in allowed:
            return False
        return await settled(self._send_event(event, text, slug, CLIENT_TYPES[event["type"]]))

    def _send_event(self, event: dict[str, Any], text: str, slug: str, client_type: str) -> bool | Awaitable[bool]:
        # Drops an update the snapshot (or an earlier copy) already covered.
        if client_type == "update" and not self._advance(slug, event["sequence"], event.get("fetched_at") or ""):
            return False
        # The shared frame straight to the socket when the server allows it (realtime/direct.py).
        writer = self.scope.get(DIRECT_WRITER)
        if writer is not None and writer.write(text):
            return True
        return self._send_text(text)

    def _advance(self, slug: str, sequence: int, fetched_at: str) -> bool:
        """Whether a document at ``sequence`` fetched at ``fetched_at`` is newer than what was sent; if so it is
        now the last sent.

        Sequences grow with fetch times within one life of a slug. A lower or equal sequence fetched later
        therefore means the source was deleted and created again (its data deleted with it: a new life counts
        from 1), or its store emptied: it starts over here instead of being dropped until it passed the old
        sequence. The times are compared parsed only then, off the usual path.
        """
        last = self.sequences.get(slug)
        if last is not None and sequence <= last[0]:
            try:
                if datetime.fromisoformat(fetched_at) <= datetime.fromisoformat(last[1]):
                    return False
            except (TypeError, ValueError):
                return False  # an event without a readable time: judged by its sequence alone
        self.sequences[slug] = (sequence, fetched_at)
        return True

    async def _send_text(self, text: str) -> bool:
        await self.send(text_data=text)
        return True

    async def flush_buffered(self) -> None:
        # Events may keep arriving while these are sent; the loop ends with nothing left, and no
        # await separates the last check from clearing the flag.
        try:
            while self.buffered:
                batch, self.buffered = self.buffered, []
                for event, text in batch:
                    try:
                        if await settled(self.handle_event(event, text)):
                            WEBSOCKET_MESSAGES_SENT.labels(type=CLIENT_TYPES[event["type"]]).inc()
                    except Exception:
                        # As the hub does for a live event: one that fails (its source's team could not be
                        # read) is logged and the rest still go; the client sees the gap in its sequence.
                        logger.exception("realtime: delivering %s failed", event.get("type"))
        finally:
            # Even when cancelled: a connection left buffering would queue every later event, unsent.
            self.buffering = False
            self.buffered = []

    # --- Housekeeping ----------------------------------------------------------------------------

    async def maintain(self) -> None:
        """Re-check credentials for as long as the connection lives.

        A revoked token, a deactivated user or a logged-out session ends the stream within
        REALTIME_REAUTH_INTERVAL (group memberships are renewed by the LocalHub). The teams and readable
        sources are looked up again at the same pace: a removed membership stops that team's events
        within the interval, and a source added to the user's teams joins a subscription to "all".
        While nothing changed, a token connection's check is one cache read (realtime/access.py).
        """
        while True:
            await asyncio.sleep(settings.REALTIME_REAUTH_INTERVAL)
            try:
                access = await self.current_access()
                # A session's own access (realtime/access.py) is read again with its session row; a
                # session resolved by Channels (another session engine) is checked here.
                if (
                    self.scope.get("auth_method") == "session"
                    and access.key[0] != "session"
                    and not await session_alive(self.scope)
                ):
                    raise Revoked
                await SOURCE_TEAMS.refresh_if_older(settings.REALTIME_REAUTH_INTERVAL)
            except asyncio.CancelledError:
                raise
            except Revoked:
                logger.info("realtime: closing a connection whose credentials were revoked")
                await self.close_with(CloseCode.UNAUTHENTICATED)
                return
            except Exception as exc:
                # A database blip: keep the connection and try again next tick.
                logger.warning("realtime: connection maintenance failed: %s", type(exc).__name__)
