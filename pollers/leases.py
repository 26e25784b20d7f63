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

A Redis outage must not stop the polling (``FallbackLeases``): while Redis is unreachable the
claims go to the database (``DatabaseLeases``: one ``PollerLease`` row per source, claimed by a
compare-and-set, with ``SELECT ... FOR UPDATE SKIP LOCKED`` first on PostgreSQL), Redis being
tried again every ``POLLER_REDIS_RETRY_SECONDS``. Two rules keep a slot from being polled twice
across the switch: during an outage a poller does not claim a slot that began before it saw
Redis fail (someone may have claimed it in Redis just before), and for two intervals after it
started or saw Redis come back it claims in Redis *and* in the database (another poller may
still be on the database). A source misses at most the one slot under way when Redis went away.
A row whose slot is far ahead of the claimed one was numbered under the source's previous interval
and does not hold it back (``DatabaseLeases.claim``).
Not covered: a partition in which some pollers reach Redis and others do not for longer than
that (docs/polling.md).
"""

from __future__ import annotations

import abc
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.db.models.functions import Now

from devops_insights.db_clock import database_now_plus
from pollers.coordination import key_prefix, redis_client
from pollers.schedule import phase, slot_start

logger = logging.getLogger("pollers.leases")


@dataclass(frozen=True)
class Lease:
    slug: str
    slot: int
    token: str
    held_in: tuple[str, ...] = ()  # FallbackLeases: which stores hold it ("redis", "db")
    db_token: str = ""  # FallbackLeases, when held in both: the database row's token


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


# How far ahead of a claimed slot a PollerLease row's slot can be under the same interval (see claim).
AHEAD_SLOTS = 2


class DatabaseLeases(LeaseBackend):
    """The lease rules on the ``PollerLease`` table of database ``using``: correct across processes."""

    name = "db"

    def __init__(self, using: str = "default") -> None:
        self.using = using

    def _rows(self) -> Any:
        from pollers.models import PollerLease

        return PollerLease.objects.using(self.using)

    def claim(self, slug: str, slot: int, slot_ttl: float, lease_ttl: float) -> Lease | None:
        token = new_token()
        # A row a slot or two ahead of this one is another poller's newer claim (a clock a little ahead, or
        # this claim a slot late: the loop still claims the slot before the current one): it stands. A row
        # further ahead was numbered under another interval, since slots count from the epoch: raising an
        # interval from 30 s to 60 s halves the slot numbers, and a row that waited for them to catch up
        # would keep the source from ever being claimed here again.
        unpolled = Q(slot__lt=slot) | Q(slot__gt=slot + AHEAD_SLOTS)
        claimable = unpolled & (Q(token="") | Q(expires_at__isnull=True) | Q(expires_at__lte=Now()))
        with transaction.atomic(using=self.using):
            rows = self._rows().filter(slug=slug)
            if connections[self.using].vendor == "postgresql":
                # A row another poller is claiming right now is skipped, not waited for: it is theirs.
                locked = list(rows.select_for_update(skip_locked=True).values_list("pk", flat=True))
                if not locked:
                    return self._create(slug, slot, token, lease_ttl) if not rows.exists() else None
            # The compare-and-set: one UPDATE, so of two claimers only one finds the row claimable.
            if rows.filter(claimable).update(slot=slot, token=token, expires_at=database_now_plus(lease_ttl)):
                return Lease(slug, slot, token)
            if rows.exists():
                return None
        return self._create(slug, slot, token, lease_ttl)

    def _create(self, slug: str, slot: int, token: str, lease_ttl: float) -> Lease | None:
        try:
            with transaction.atomic(using=self.using):
                self._rows().create(slug=slug, slot=slot, token=token, expires_at=database_now_plus(lease_ttl))
        except IntegrityError:
            return None  # another poller created the row first: the slot is theirs
        return Lease(slug, slot, token)

    def extend(self, lease: Lease, lease_ttl: float) -> bool:
        mine = self._rows().filter(slug=lease.slug, slot=lease.slot, token=lease.token)
        return bool(mine.update(expires_at=database_now_plus(lease_ttl)))

    def release(self, lease: Lease) -> bool:
        return bool(self._rows().filter(slug=lease.slug, token=lease.token).update(token="", expires_at=None))


class FallbackLeases(LeaseBackend):
    """Redis leases that keep working through a Redis outage by falling back to the database."""

    name = "redis"  # what the poller reports: Redis is the coordination; the database only stands in

    def __init__(
        self,
        primary: LeaseBackend,
        fallback: LeaseBackend,
        *,
        retry_seconds: float = 5.0,
        clock: Any = time.time,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self.down_since: float | None = None  # when this process saw Redis fail, while it is down
        self._next_try = 0.0
        # Claims go to both stores for two intervals after this: another poller may still be on the database.
        self._settling_since = clock()

    @staticmethod
    def _redis_errors() -> tuple[type[BaseException], ...]:
        import redis

        return (redis.exceptions.RedisError, OSError)

    def _try_primary(self, now: float) -> bool:
        with self._lock:
            if self.down_since is None:
                return True
            if now < self._next_try:
                return False
            self._next_try = now + self.retry_seconds  # one probe per period, whichever thread comes first
            return True

    def _primary_failed(self, now: float, exc: BaseException) -> None:
        with self._lock:
            if self.down_since is None:
                self.down_since = now
                logger.warning("Redis is unreachable (%s): leases fall back to the database", type(exc).__name__)
            self._next_try = now + self.retry_seconds

    def _primary_ok(self, now: float) -> None:
        with self._lock:
            if self.down_since is not None:
                logger.warning("Redis is back after %.0fs: leases return to Redis", now - self.down_since)
                self.down_since = None
                self._settling_since = now

    def claim(self, slug: str, slot: int, slot_ttl: float, lease_ttl: float) -> Lease | None:
        now = self.clock()
        if self._try_primary(now):
            try:
                lease = self.primary.claim(slug, slot, slot_ttl, lease_ttl)
            except self._redis_errors() as exc:
                self._primary_failed(now, exc)
            else:
                self._primary_ok(now)
                if lease is None:
                    return None
                if now >= self._settling_since + slot_ttl:
                    return Lease(slug, slot, lease.token, ("redis",))
                return self._also_in_database(lease, slot_ttl, lease_ttl)
        with self._lock:
            down_since = self.down_since
        interval = slot_ttl / 2
        if down_since is not None and slot_start(slot, interval, phase(slug, interval)) < down_since:
            return None  # under way when Redis went: it may have been claimed there already
        held = self.fallback.claim(slug, slot, slot_ttl, lease_ttl)
        return None if held is None else Lease(slug, slot, held.token, ("db",))

    def _also_in_database(self, lease: Lease, slot_ttl: float, lease_ttl: float) -> Lease | None:
        try:
            held = self.fallback.claim(lease.slug, lease.slot, slot_ttl, lease_ttl)
        except Exception as exc:  # the database is only a guard here; Redis decides while it is up
            logger.debug("%s: no database guard for slot %d: %s", lease.slug, lease.slot, type(exc).__name__)
            return Lease(lease.slug, lease.slot, lease.token, ("redis",))
        if held is None:
            # A poller still on the database has this slot.
            self._quietly(self.primary.release, lease)
            return None
        return Lease(lease.slug, lease.slot, lease.token, ("redis", "db"), db_token=held.token)

    def extend(self, lease: Lease, lease_ttl: float) -> bool:
        results = [self._on(name, "extend", self._part(lease, name), lease_ttl) for name in lease.held_in]
        return bool(results) and all(results)

    def release(self, lease: Lease) -> bool:
        results = [self._on(name, "release", self._part(lease, name)) for name in lease.held_in]
        return any(results)

    def _on(self, name: str, action: str, *args: Any) -> bool:
        """``action`` on one store's part of a lease; False when it failed or was not tried.

        Redis gets the claims' treatment: while it is down it is not tried between probes, and a failure
        marks it down. The loop extends every held lease each second: a Redis that drops packets would
        otherwise cost ``POLLER_REDIS_TIMEOUT`` per lease, and stall the schedule with it. A lease that is
        not extended expires in Redis on its own, and the database claims leave its slot alone (``claim``).
        """
        if name != "redis":
            return self._quietly(getattr(self.fallback, action), *args)
        now = self.clock()
        if not self._try_primary(now):
            return False
        try:
            done = bool(getattr(self.primary, action)(*args))
        except self._redis_errors() as exc:
            self._primary_failed(now, exc)
            return False
        except Exception as exc:  # as _quietly: the lease expires on its own
            logger.debug("lease %s failed: %s", action, type(exc).__name__)
            return False
        self._primary_ok(now)
        return done

    @staticmethod
    def _part(lease: Lease, name: str) -> Lease:
        token = lease.db_token if name == "db" and lease.db_token else lease.token
        return Lease(lease.slug, lease.slot, token)

    @staticmethod
    def _quietly(action: Any, *args: Any) -> bool:
        try:
            return bool(action(*args))
        except Exception as exc:  # an unreachable store: its lease expires on its own
            logger.debug("lease %s failed: %s", getattr(action, "__name__", action), type(exc).__name__)
            return False


def build_lease_backend() -> LeaseBackend:
    client = redis_client()
    if client is None:
        logger.warning("REDIS_URL is not set: leases are local to this process, so run only ONE poller")
        return LocalLeases()
    if not settings.POLLER_LEASE_FALLBACK:
        return RedisLeases(client)
    return FallbackLeases(RedisLeases(client), DatabaseLeases(), retry_seconds=settings.POLLER_REDIS_RETRY_SECONDS)
