"""Process-local fan-out: one channel-layer channel per web process for all of its WebSockets.

The usual Channels pattern gives every connection its own channel and adds it to groups, so one
update for 2,000 subscribers is 2,000 channel-layer deliveries inside the process, each waking a
consumer's dispatch loop. bench/ws_fanout.py measured that machinery, not the WebSocket writes, as
most of the fan-out time. Here each process (each event loop) holds one channel that joins a group
when the first local connection wants it and leaves when the last one goes; every event arriving
on it is handed straight to the local connections of that group.

Delivery is keyed by group, that is by source slug (``metrics.<slug>``, or ``metrics.all``): each
event is encoded once here (``realtime.encoding.outbound``) and the one text is handed to every
member, which only decides whether it wants it (its subscriptions, its sequence; a set lookup).

Events carry the ``group`` they were sent to (``realtime.events`` adds it), because the channel
sits in ``metrics.<slug>`` and ``metrics.all`` at once and receives one copy per group. An event
without it is delivered to both groups' members once each, by source.

Sequences without gaps: each source's stored changes are numbered (+1 per change), and a poller
killed between committing a change and publishing it leaves a hole every client would see. The hub
remembers the last sequence it delivered per group and source; when an update skips some, it reads
the missing ones from the store (at most ``MAX_FILLED``, one query, only on a gap) and delivers them
first, so clients receive every change in order. A longer hole is left to the clients, which ``get``
the snapshot when they see it (docs/websocket-protocol.md).

channels-redis forgets a member after ``group_expiry``; the hub re-joins its groups at half that,
so connections older than the expiry keep receiving.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer

from metrics.serialization import WEBSOCKET_FORM, history_entry_json
from metrics.stores import get_store
from observability.instruments import WEBSOCKET_MESSAGES_SENT
from realtime.encoding import CLIENT_TYPES, outbound
from realtime.groups import ALL_GROUP, source_group

logger = logging.getLogger(__name__)

MAX_FILLED = 20  # missed updates read back per gap; a longer gap is for the clients to catch up
FILL_TIMEOUT = 5.0  # seconds the delivery of later events may wait for that read


def _read_missed(slug: str, after: tuple[int, str], before: int, fetched_at: str) -> list[dict[str, Any]]:
    """Update events for the stored changes between ``after`` (sequence, fetched_at) and ``before``, oldest first."""
    if before - after[0] - 1 <= 0:
        return []
    start, end = datetime.fromisoformat(after[1]), datetime.fromisoformat(fetched_at)
    page = get_store().history(slug, start=start, end=end, limit=MAX_FILLED + 1)
    published_at = WEBSOCKET_FORM.time(datetime.now(UTC))
    events: list[dict[str, Any]] = []
    for entry in sorted(page.entries, key=lambda e: e.sequence):
        if after[0] < entry.sequence < before and len(events) < MAX_FILLED:
            data = history_entry_json(entry, with_payload=True, form=WEBSOCKET_FORM)
            events.append(
                {
                    "type": "metric.update",
                    "source": slug,
                    **{key: data[key] for key in ("hash", "sequence", "fetched_at", "metrics", "diff", "payload")},
                    "published_at": published_at,
                    "event_id": uuid.uuid4().hex,
                    "filled": True,
                }
            )
    return events


# Not thread-sensitive: the hub's read loop must never wait for the one thread that sync request code
# shares (under test it may be the very thread whose publish is being delivered).
missed_updates = database_sync_to_async(_read_missed, thread_sensitive=False)


class Member(Protocol):
    def receive_event(self, event: dict[str, Any], text: str) -> bool | Awaitable[bool]:
        """True when sent; an awaitable (of the same) when it could not be settled without waiting."""


class LocalHub:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.members: dict[str, set[Member]] = {}
        self.channel: str | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.lock = asyncio.Lock()
        # (group, source) -> the last update delivered (sequence, fetched_at): bounded by the sources.
        self.last_sequence: dict[tuple[str, str], tuple[int, str]] = {}

    async def join(self, group: str, member: Member) -> None:
        """Deliver ``group``'s events to ``member``; raises if the channel layer is unreachable."""
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                channel = await self._open()
                await self.layer.group_add(group, channel)
                members = self.members[group] = set()
            members.add(member)

    async def leave(self, group: str, member: Member) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None or member not in members:
                return
            members.discard(member)
            if members:
                return
            del self.members[group]
            try:
                if self.channel is not None:
                    await self.layer.group_discard(group, self.channel)
            except Exception as exc:
                # The membership expires on its own; events for it are dropped here meanwhile.
                logger.warning("realtime: leaving group %s failed: %s", group, type(exc).__name__)
            if not self.members:
                self._close()

    async def _open(self) -> str:
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            loop = asyncio.get_running_loop()
            self.tasks = [loop.create_task(self._read(self.channel))]
            group_expiry = getattr(self.layer, "group_expiry", None)
            if group_expiry:
                self.tasks.append(loop.create_task(self._refresh(group_expiry / 2)))
        return self.channel

    def _close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks = []
        self.channel = None

    async def _read(self, channel: str) -> None:
        while True:
            try:
                event = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("realtime: receiving from the channel layer failed: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            await self.deliver(event)

    async def _refresh(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            for group in list(self.members):
                try:
                    if self.channel is not None:
                        await self.layer.group_add(group, self.channel)
                except Exception as exc:
                    logger.warning("realtime: renewing group %s failed: %s", group, type(exc).__name__)

    async def deliver(self, event: dict[str, Any]) -> None:
        group = event.get("group")
        if group is not None:
            targets: set[Member] = set(self.members.get(group, ()))
        else:
            slug = event.get("source", "")
            targets = set(self.members.get(source_group(slug), ())) | set(self.members.get(ALL_GROUP, ()))
        if not targets:
            return
        if event.get("type") == "metric.update":
            for missed in await self._missed(str(group), event):
                await self._fan_out(missed, targets)
        await self._fan_out(event, targets)

    async def _missed(self, group: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The stored updates between the last one delivered for this group and source and ``event``."""
        key = (group, event["source"])
        last, sequence = self.last_sequence.get(key), event["sequence"]
        if last is None or sequence > last[0]:
            self.last_sequence[key] = (sequence, event["fetched_at"])
        if last is None or sequence <= last[0] + 1:
            return []
        try:
            async with asyncio.timeout(FILL_TIMEOUT):
                return await missed_updates(event["source"], last, sequence, event["fetched_at"])
        except Exception as exc:
            # The clients see the gap and catch up with a get (docs/websocket-protocol.md).
            logger.warning("realtime: reading missed updates of %s failed: %s", event["source"], type(exc).__name__)
            return []

    async def _fan_out(self, event: dict[str, Any], targets: set[Member]) -> None:
        text = outbound(event)
        if text is None:
            return
        sent = 0
        for member in targets:
            try:
                # Most members settle at once (a bool): no coroutine per connection and event.
                outcome = member.receive_event(event, text)
                sent += outcome if isinstance(outcome, bool) else await outcome
            except Exception:
                # One broken connection must not starve the others.
                logger.exception("realtime: delivering %s failed", event.get("type"))
        if sent:
            WEBSOCKET_MESSAGES_SENT.labels(type=CLIENT_TYPES[event["type"]]).inc(sent)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalHub] = weakref.WeakKeyDictionary()


def hub_for(layer: BaseChannelLayer) -> LocalHub:
    """The hub of the running event loop (daphne has one; tests have one per test)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = LocalHub(layer)
    return hub
