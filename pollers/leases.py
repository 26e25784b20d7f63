"""Leases: how several poller processes share the sources without polling one twice.

Each poll of a source is due in a *slot*: slot ``n`` of a source starts at ``n * interval +
phase`` (see ``pollers.schedule``). To poll, a process claims the slot, atomically:

* ``<prefix>:{slug}:slot:<n>`` is set NX (with a random token) and expires after two intervals.
  Only one process can ever set it, so a slot is polled at most once, by whoever claims first.
* ``<prefix>:{slug}:lease`` holds the token while the poll is in flight, with a short TTL the
  owner keeps extending. If it exists, the source is still being polled (a poll slower than its
  interval), and the slot is not claimed: two polls of one source never overlap.

Release and extend are compare-and-act Lua scripts, so only the owner (its token) can do
either. A poller killed with ``kill -9`` holds nothing for long: its lease expires within its
TTL and every other process claims the next slot as usual, so a source misses at most the one
poll that was in flight. Without Redis the same rules run in-process, which is only correct
for a single poller; the poller says so at start.
"""

from __future__ import annotations

import abc
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from pollers.coordination import key_prefix, redis_client

logger = logging.getLogger("pollers.leases")


@dataclass(frozen=True)
class Lease:
    slug: str
    slot: int
    token: str


class LeaseBackend(abc.ABC):
    name: str

    @abc.abstractmethod
    def claim(self, slug: str, slot: int, slot_ttl: float, lease_ttl: float) -> Lease | None:
        """Claim slot ``slot`` of ``slug``; None when it is taken or the source is in flight elsewhere."""

    @abc.abstractmethod
    def extend(self, lease: Lease, lease_ttl: float) -> bool:
        """Push the lease's expiry to ``lease_ttl`` seconds from now; False when it is no longer ours."""

    @abc.abstractmethod
    def release(self, lease: Lease) -> bool:
        """Drop the in-flight lease (the slot stays claimed); False when it is no longer ours."""


def new_token() -> str:
    return secrets.token_hex(16)


CLAIM_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 'busy'
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then
  return 'taken'
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'ok'
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

EXTEND_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisLeases(LeaseBackend):
    name = "redis"

    def __init__(self, client: Any, prefix: str | None = None) -> None:
        self.client = client
        self.prefix = prefix if prefix is not None else key_prefix()
        self._claim = client.register_script(CLAIM_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self._extend = client.register_script(EXTEND_LUA)

    def keys(self, slug: str, slot: int) -> tuple[str, str]:
        # The {slug} hash tag keeps both keys on one Redis Cluster node, as a multi-key script needs.
        return f"{self.prefix}:{{{slug}}}:lease", f"{self.prefix}:{{{slug}}}:slot:{slot}"

    def claim(self, slug: str, slot: int, slot_ttl: float, lease_ttl: float) -> Lease | None:
        token = new_token()
        result = self._claim(keys=list(self.keys(slug, slot)), args=[token, _ms(lease_ttl), _ms(slot_ttl)])
        if result in (b"ok", "ok"):
            return Lease(slug, slot, token)
        return None

    def extend(self, lease: Lease, lease_ttl: float) -> bool:
        return bool(self._extend(keys=[self.keys(lease.slug, lease.slot)[0]], args=[lease.token, _ms(lease_ttl)]))

    def release(self, lease: Lease) -> bool:
        return bool(self._release(keys=[self.keys(lease.slug, lease.slot)[0]], args=[lease.token]))


class LocalLeases(LeaseBackend):
    """The same rules in one process's memory: correct only while a single poller runs."""

    name = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: dict[str, tuple[str, float]] = {}  # slug -> (token, expires at)
        self._slots: dict[tuple[str, int], float] = {}  # (slug, slot) -> expires at

    def claim(self, slug: str, slot: int, slot_ttl: float, lease_ttl: float) -> Lease | None:
        now = time.monotonic()
        with self._lock:
            self._slots = {key: exp for key, exp in self._slots.items() if exp > now}
            held = self._leases.get(slug)
            if held is not None and held[1] > now:
                return None
            if (slug, slot) in self._slots:
                return None
            token = new_token()
            self._slots[(slug, slot)] = now + slot_ttl
            self._leases[slug] = (token, now + lease_ttl)
            return Lease(slug, slot, token)

    def extend(self, lease: Lease, lease_ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            held = self._leases.get(lease.slug)
            if held is None or held[0] != lease.token or held[1] <= now:
                return False
            self._leases[lease.slug] = (lease.token, now + lease_ttl)
            return True

    def release(self, lease: Lease) -> bool:
        with self._lock:
            held = self._leases.get(lease.slug)
            if held is None or held[0] != lease.token:
                return False
            del self._leases[lease.slug]
            return True


def build_lease_backend() -> LeaseBackend:
    client = redis_client()
    if client is None:
        logger.warning("REDIS_URL is not set: leases are local to this process, so run only ONE poller")
        return LocalLeases()
    return RedisLeases(client)
