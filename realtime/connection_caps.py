"""Caps on open WebSocket connections per user and per API token, across every web process.

Without a cap one read token held 300 concurrent connections, each costing a task, buffers and a
share of every fan-out. ``REALTIME_MAX_CONNECTIONS_PER_USER`` counts a user's connections however
they authenticated; ``REALTIME_MAX_CONNECTIONS_PER_TOKEN`` counts those opened with one API token.
A connection over either cap is closed with 4409 (docs/websocket-protocol.md).

With ``REDIS_URL`` the count is shared by every process: each cap is a Redis sorted set of
connection ids scored by when their slot expires. A connection renews its slot every third of
``REALTIME_CONNECTION_SLOT_TTL`` and removes it on close; a process that crashes stops renewing,
and its slots expire. Taking a slot is one Lua script (drop expired slots, compare with the cap,
add), so two processes cannot both take the last one. Without Redis, or while Redis fails (then
logged once, and the limit is per process rather than none), the count is this process's own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

# KEYS: the slot sets. ARGV: member, now (ms), slot expiry (ms), key expiry (ms), then one cap per key.
# Returns 0 when a slot was taken in every set, else the 1-based index of the set that is full.
_TAKE = """
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
  if redis.call('ZSCORE', key, ARGV[1]) == false and redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then
    return i
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[3], ARGV[1])
  redis.call('PEXPIRE', key, ARGV[4])
end
return 0
"""


@dataclass(frozen=True)
class Cap:
    kind: str  # "user" or "token"
    ident: str
    limit: int

    @property
    def key(self) -> str:
        return f"{settings.CACHE_KEY_PREFIX}:ws-slots:{self.kind}:{self.ident}"

    def refusal(self) -> str:
        who = "this user" if self.kind == "user" else "this API token"
        setting = "REALTIME_MAX_CONNECTIONS_PER_USER" if self.kind == "user" else "REALTIME_MAX_CONNECTIONS_PER_TOKEN"
        return f"more than {self.limit} open connections for {who} ({setting})"


@dataclass
class Slot:
    """A connection's hold on its caps; ``backend`` is where it was taken, so it is given back there."""

    caps: tuple[Cap, ...]
    member: str = field(default_factory=lambda: uuid.uuid4().hex)
    backend: str = "local"


def caps_for(scope: dict[str, Any]) -> tuple[Cap, ...]:
    caps: list[Cap] = []
    user = scope.get("user")
    if user is not None and settings.REALTIME_MAX_CONNECTIONS_PER_USER > 0:
        caps.append(Cap("user", str(user.pk), settings.REALTIME_MAX_CONNECTIONS_PER_USER))
    token = scope.get("api_token")
    if token is not None and settings.REALTIME_MAX_CONNECTIONS_PER_TOKEN > 0:
        caps.append(Cap("token", str(token.pk), settings.REALTIME_MAX_CONNECTIONS_PER_TOKEN))
    return tuple(caps)


# --- In this process ------------------------------------------------------------------------------

_local_lock = threading.Lock()
_local: dict[str, dict[str, float]] = {}  # key -> member -> expiry (monotonic seconds)


def _local_take(slot: Slot, ttl: float) -> Cap | None:
    now = time.monotonic()
    with _local_lock:
        for cap in slot.caps:
            members = _local.setdefault(cap.key, {})
            for member in [m for m, expiry in members.items() if expiry <= now]:
                del members[member]
            if slot.member not in members and len(members) >= cap.limit:
                return cap
        for cap in slot.caps:
            _local[cap.key][slot.member] = now + ttl
    return None


def _local_renew(slot: Slot, ttl: float) -> None:
    with _local_lock:
        for cap in slot.caps:
            _local.setdefault(cap.key, {})[slot.member] = time.monotonic() + ttl


def _local_release(slot: Slot) -> None:
    with _local_lock:
        for cap in slot.caps:
            members = _local.get(cap.key)
            if members is not None:
                members.pop(slot.member, None)
                if not members:
                    del _local[cap.key]


# --- In Redis -----------------------------------------------------------------------------------

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_redis_failing = False


def _client() -> Any:
    import redis

    url = str(settings.REDIS_URL)
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            timeout = float(settings.POLLER_REDIS_TIMEOUT)
            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            _clients[url] = client
        return client


def _redis_take(slot: Slot, ttl: float) -> Cap | None:
    now_ms = int(time.time() * 1000)
    ttl_ms = int(ttl * 1000)
    keys = [cap.key for cap in slot.caps]
    args = [slot.member, now_ms, now_ms + ttl_ms, ttl_ms, *(cap.limit for cap in slot.caps)]
    full = int(_client().eval(_TAKE, len(keys), *keys, *args))
    return slot.caps[full - 1] if full else None


def _redis_renew(slot: Slot, ttl: float) -> None:
    expires_ms = int((time.time() + ttl) * 1000)
    with _client().pipeline(transaction=False) as pipe:
        for cap in slot.caps:
            pipe.zadd(cap.key, {slot.member: expires_ms})
            pipe.pexpire(cap.key, int(ttl * 1000))
        pipe.execute()


def _redis_release(slot: Slot) -> None:
    with _client().pipeline(transaction=False) as pipe:
        for cap in slot.caps:
            pipe.zrem(cap.key, slot.member)
        pipe.execute()


def _warn_redis(exc: Exception) -> None:
    global _redis_failing
    if not _redis_failing:
        logger.warning("realtime: connection caps fall back to this process: Redis failed (%s)", type(exc).__name__)
    _redis_failing = True


def _take(slot: Slot, ttl: float) -> Cap | None:
    global _redis_failing
    if settings.REDIS_URL:
        try:
            full = _redis_take(slot, ttl)
        except Exception as exc:  # a Redis outage must not lock every client out
            _warn_redis(exc)
        else:
            _redis_failing = False
            slot.backend = "redis"
            return full
    slot.backend = "local"
    return _local_take(slot, ttl)


def _renew(slot: Slot, ttl: float) -> None:
    if slot.backend == "redis":
        try:
            _redis_renew(slot, ttl)
        except Exception as exc:
            _warn_redis(exc)  # the slot expires in Redis; the connection stays open
    else:
        _local_renew(slot, ttl)


def _release(slot: Slot) -> None:
    if slot.backend == "redis":
        try:
            _redis_release(slot)
        except Exception as exc:
            _warn_redis(exc)  # it expires within REALTIME_CONNECTION_SLOT_TTL anyway
    else:
        _local_release(slot)


# --- For the consumer --------------------------------------------------------------------------


async def take(scope: dict[str, Any]) -> tuple[Slot | None, str | None]:
    """A slot for this connection, or why it is refused. ``(None, None)`` when no cap applies."""
    caps = caps_for(scope)
    if not caps:
        return None, None
    slot = Slot(caps)
    full = await sync_to_async(_take, thread_sensitive=False)(slot, settings.REALTIME_CONNECTION_SLOT_TTL)
    if full is not None:
        return None, full.refusal()
    return slot, None


async def keep(slot: Slot) -> None:
    """Renew ``slot`` for as long as the connection lives (cancelled on disconnect)."""
    ttl = float(settings.REALTIME_CONNECTION_SLOT_TTL)
    while True:
        await asyncio.sleep(ttl / 3)
        await sync_to_async(_renew, thread_sensitive=False)(slot, ttl)


async def release(slot: Slot) -> None:
    await sync_to_async(_release, thread_sensitive=False)(slot)
