"""Leases through a Redis outage: the database stands in, no slot is polled twice, no source goes dark.

The Redis here is the test's own redis-server on a free port, stopped and started again by the
test; the database leases run on SQLite and on PostgreSQL (real row locks).
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connections

from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.leases import DatabaseLeases, FallbackLeases, Lease, LeaseBackend, RedisLeases
from pollers.loop import PollerLoop
from pollers.models import PollerLease, Source
from pollers.schedule import phase, slot_at, slot_start
from tests.pollers.support import RedisServer, sql_alias
from tests.simulator import RunningSimulator


def databases(*kinds: str) -> list[Any]:
    return [
        pytest.param(kind, marks=pytest.mark.django_db(databases=[sql_alias(kind)], transaction=True), id=kind)
        for kind in kinds
    ]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def test_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def redis_client_for(server: RedisServer) -> Any:
    # Short timeouts, as POLLER_REDIS_TIMEOUT would give: an outage costs a claim a fraction of a second.
    return redis.Redis.from_url(server.url, socket_connect_timeout=0.5, socket_timeout=0.5)


# --- the database leases alone --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", databases("sqlite", "postgres"))
def test_it_lets_exactly_one_of_many_claim_a_slot_in_the_database(kind: str) -> None:
    alias = sql_alias(kind)
    winners: Counter[int] = Counter()
    lock = threading.Lock()

    def claimer(barrier: threading.Barrier, slot: int) -> None:
        try:
            barrier.wait()
            if DatabaseLeases(alias).claim("us-east", slot, slot_ttl=10, lease_ttl=5):
                with lock:
                    winners[slot] += 1
        finally:
            connections[alias].close()

    for slot in range(1, 6):
        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=claimer, args=(barrier, slot)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        # The previous slot's lease is still in flight: release it so the next slot is claimable.
        PollerLease.objects.using(alias).update(token="", expires_at=None)
    assert winners == Counter({slot: 1 for slot in range(1, 6)})


@pytest.mark.parametrize("kind", databases("sqlite", "postgres"))
def test_it_keeps_the_redis_lease_rules_in_the_database(kind: str) -> None:
    alias = sql_alias(kind)
    first, second = DatabaseLeases(alias), DatabaseLeases(alias)
    lease = first.claim("eu-west", 7, slot_ttl=10, lease_ttl=5)
    assert lease is not None
    assert second.claim("eu-west", 8, slot_ttl=10, lease_ttl=5) is None  # in flight: never two polls at once
    assert not second.release(Lease("eu-west", 7, "not-the-owner"))
    assert not second.extend(Lease("eu-west", 7, "not-the-owner"), 5)
    assert first.extend(lease, 5)
    assert first.release(lease)
    assert second.claim("eu-west", 7, slot_ttl=10, lease_ttl=5) is None  # slot 7 was polled already
    assert second.claim("eu-west", 6, slot_ttl=10, lease_ttl=5) is None  # and older slots are over
    assert second.claim("eu-west", 8, slot_ttl=10, lease_ttl=5) is not None


@pytest.mark.parametrize("kind", databases("sqlite", "postgres"))
def test_it_frees_a_dead_owners_source_when_its_database_lease_expires(kind: str) -> None:
    alias = sql_alias(kind)
    dead, alive = DatabaseLeases(alias), DatabaseLeases(alias)
    assert dead.claim("ap-south", 1, slot_ttl=10, lease_ttl=0.3) is not None  # and never released
    assert alive.claim("ap-south", 2, slot_ttl=10, lease_ttl=5) is None
    taken: list[Lease] = []
    wait_for(
        lambda: bool(taken.append(lease) or True if (lease := alive.claim("ap-south", 2, 10, 5)) else False),
        10,
        "the expired lease to free the source",
    )
    assert taken[0].slot == 2


def slot_now(slug: str, interval: float) -> int:
    return slot_at(time.time(), interval, phase(slug, interval))


def released_at_interval_30(alias: str, slug: str) -> None:
    """The row a poller leaves after polling ``slug`` at 30 s: slot numbers twice those of a 60 s interval."""
    lease = DatabaseLeases(alias).claim(slug, slot_now(slug, 30), slot_ttl=60, lease_ttl=15)
    assert lease is not None
    assert DatabaseLeases(alias).release(lease)


@pytest.mark.parametrize("kind", databases("sqlite", "postgres"))
def test_it_claims_in_the_database_after_an_interval_was_raised(kind: str) -> None:
    alias = sql_alias(kind)
    released_at_interval_30(alias, "eu-west")
    # The operator raised the interval to 60 s: the current slot's number is now half the row's.
    slot = slot_now("eu-west", 60)
    lease = DatabaseLeases(alias).claim("eu-west", slot, slot_ttl=120, lease_ttl=30)
    assert lease is not None
    assert DatabaseLeases(alias).release(lease)
    assert DatabaseLeases(alias).claim("eu-west", slot, slot_ttl=120, lease_ttl=30) is None  # polled once
    assert DatabaseLeases(alias).claim("eu-west", slot + 1, slot_ttl=120, lease_ttl=30) is not None


@pytest.mark.parametrize("kind", databases("sqlite", "postgres"))
def test_it_lets_exactly_one_of_many_claim_after_an_interval_was_raised(kind: str) -> None:
    alias = sql_alias(kind)
    released_at_interval_30(alias, "us-east")
    slot = slot_now("us-east", 60)
    won: list[Lease] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claimer() -> None:
        try:
            barrier.wait()
            if lease := DatabaseLeases(alias).claim("us-east", slot, slot_ttl=120, lease_ttl=30):
                with lock:
                    won.append(lease)
        finally:
            connections[alias].close()

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1
    assert PollerLease.objects.using(alias).get(slug="us-east").slot == slot


@pytest.mark.parametrize("kind", databases("sqlite", "postgres"))
def test_it_keeps_a_held_lease_when_the_interval_changes(kind: str) -> None:
    alias = sql_alias(kind)
    held = DatabaseLeases(alias).claim("ap-south", slot_now("ap-south", 30), slot_ttl=60, lease_ttl=30)
    assert held is not None  # in flight at 30 s, unexpired, when another poller already runs at 60 s
    assert DatabaseLeases(alias).claim("ap-south", slot_now("ap-south", 60), slot_ttl=120, lease_ttl=30) is None
    assert DatabaseLeases(alias).claim("ap-south", slot_now("ap-south", 10), slot_ttl=20, lease_ttl=5) is None
    assert PollerLease.objects.using(alias).get(slug="ap-south").token == held.token


@pytest.mark.parametrize("kind", databases("sqlite", "postgres"))
def test_it_leaves_a_slot_behind_another_pollers_newer_claim_unclaimed(kind: str) -> None:
    alias = sql_alias(kind)
    leases = DatabaseLeases(alias)
    # A poller whose clock runs a little ahead polled slot 12 while this one comes to 10 or 11: under one
    # interval those are over, not a sign of another numbering.
    newer = leases.claim("sa-east", 12, slot_ttl=10, lease_ttl=5)
    assert newer is not None
    assert leases.release(newer)
    assert leases.claim("sa-east", 11, slot_ttl=10, lease_ttl=5) is None
    assert leases.claim("sa-east", 10, slot_ttl=10, lease_ttl=5) is None
    assert PollerLease.objects.using(alias).get(slug="sa-east").slot == 12


# --- Redis, then the database, then Redis again ------------------------------------------------------------
class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


INTERVAL = 10.0
SLUG = "us-east"


def start_of(slot: int) -> float:
    return slot_start(slot, INTERVAL, phase(SLUG, INTERVAL))


def holder(server: RedisServer, alias: str, clock: Clock, prefix: str, retry: float = 1.0) -> FallbackLeases:
    return FallbackLeases(
        RedisLeases(redis_client_for(server), prefix=prefix), DatabaseLeases(alias), retry_seconds=retry, clock=clock
    )


@pytest.mark.parametrize("kind", databases("postgres", "sqlite"))
def test_it_falls_back_to_the_database_and_back_without_polling_a_slot_twice(
    kind: str, test_redis: RedisServer
) -> None:
    alias = sql_alias(kind)
    slot = 1_000_000
    clock = Clock(start_of(slot) + 1)
    prefix = f"t{time.monotonic_ns()}:poller"
    a = holder(test_redis, alias, clock, prefix)
    b = holder(test_redis, alias, clock, prefix, retry=1000.0)  # b will stay on the database after the outage
    clock.now += 2 * INTERVAL + 1  # past the start-up window in which claims also go to the database
    slot += 2

    held = a.claim(SLUG, slot, slot_ttl=2 * INTERVAL, lease_ttl=5)
    assert held is not None
    assert held.held_in == ("redis",)
    assert not PollerLease.objects.using(alias).exists()  # Redis up: the database is not involved
    a.release(held)

    test_redis.stop()
    clock.now = start_of(slot + 1) + 1
    # b first sees Redis fail while slot+1 is under way: someone may hold it in Redis, so b leaves it.
    assert b.claim(SLUG, slot + 1, slot_ttl=2 * INTERVAL, lease_ttl=5) is None
    assert b.down_since is not None

    clock.now = start_of(slot + 2) + 1
    won = [h.claim(SLUG, slot + 2, slot_ttl=2 * INTERVAL, lease_ttl=5) for h in (a, b)]
    assert [lease is not None for lease in won].count(True) == 1  # one winner, in the database
    winner = next(lease for lease in won if lease is not None)
    assert winner.held_in == ("db",)
    assert a.down_since is not None
    (a if won[0] else b).release(winner)

    test_redis.start()
    clock.now = start_of(slot + 3) + 1
    # b has not tried Redis again yet and takes slot+3 in the database; a sees Redis back, claims there,
    # and also in the database for two intervals: b's claim stops it from polling the slot a second time.
    on_db = b.claim(SLUG, slot + 3, slot_ttl=2 * INTERVAL, lease_ttl=5)
    assert on_db is not None
    assert on_db.held_in == ("db",)
    assert a.claim(SLUG, slot + 3, slot_ttl=2 * INTERVAL, lease_ttl=5) is None
    assert a.down_since is None
    b.release(on_db)

    clock.now = start_of(slot + 4) + 1
    both = a.claim(SLUG, slot + 4, slot_ttl=2 * INTERVAL, lease_ttl=5)
    assert both is not None
    assert both.held_in == ("redis", "db")
    assert b.claim(SLUG, slot + 4, slot_ttl=2 * INTERVAL, lease_ttl=5) is None
    assert a.extend(both, 5)
    assert a.release(both)

    clock.now = start_of(slot + 7) + 1  # two intervals after Redis came back: Redis alone again
    alone = a.claim(SLUG, slot + 7, slot_ttl=2 * INTERVAL, lease_ttl=5)
    assert alone is not None
    assert alone.held_in == ("redis",)


@pytest.mark.parametrize("kind", databases("postgres", "sqlite"))
def test_it_polls_a_source_whose_interval_was_raised_after_a_restart_and_through_an_outage(
    kind: str, test_redis: RedisServer
) -> None:
    alias = sql_alias(kind)
    released_at_interval_30(alias, SLUG)  # the database row of an earlier outage, or start-up, at 30 s
    slot = slot_now(SLUG, 60)
    slot_ttl = 2 * 60.0
    prefix = f"t{time.monotonic_ns()}:poller"
    clock = Clock(slot_start(slot, 60, phase(SLUG, 60)) + 1)
    started = holder(test_redis, alias, clock, prefix, retry=1000.0)
    # Just started, so it claims in Redis and in the database: the old row must not refuse the slot.
    both = started.claim(SLUG, slot, slot_ttl=slot_ttl, lease_ttl=30)
    assert both is not None
    assert both.held_in == ("redis", "db")
    assert started.release(both)

    test_redis.stop()
    released_at_interval_30(alias, SLUG)  # a poller still at 30 s during the reload claimed once more
    clock.now = slot_start(slot + 1, 60, phase(SLUG, 60)) + 1
    assert started.claim(SLUG, slot + 1, slot_ttl=slot_ttl, lease_ttl=30) is None  # sees Redis fail
    clock.now = slot_start(slot + 2, 60, phase(SLUG, 60)) + 1
    on_db = started.claim(SLUG, slot + 2, slot_ttl=slot_ttl, lease_ttl=30)
    assert on_db is not None  # during the outage the database alone decides: the source is still polled
    assert on_db.held_in == ("db",)


# --- two poller loops through an outage ----------------------------------------------------------------------
class Recording(LeaseBackend):
    """Delegates to a real backend and remembers every slot it won: each one is a poll."""

    def __init__(
        self, inner: LeaseBackend, won: list[tuple[str, int]], where: Counter[tuple[str, ...]], lock: threading.Lock
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.won = won
        self.where = where
        self.lock = lock

    def claim(self, slug: str, slot: int, slot_ttl: float, lease_ttl: float) -> Lease | None:
        lease = self.inner.claim(slug, slot, slot_ttl, lease_ttl)
        if lease is not None:
            with self.lock:
                self.won.append((slug, slot))
                self.where[lease.held_in] += 1
        return lease

    def extend(self, lease: Lease, lease_ttl: float) -> bool:
        return self.inner.extend(lease, lease_ttl)

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)


LOOP_INTERVAL = 3
REGIONS = ("us-east", "eu-west", "ap-south")


@pytest.mark.slow
@pytest.mark.django_db(databases=["default", sql_alias("postgres")], transaction=True)
def test_two_pollers_keep_polling_through_a_redis_outage_without_duplicates(
    simulator: RunningSimulator, test_redis: RedisServer, settings: Any
) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    for region in REGIONS:
        Source.objects.create(
            slug=region, name=region, url=simulator.url(region), interval_seconds=LOOP_INTERVAL, timeout_seconds=2
        )
    won: list[tuple[str, int]] = []
    where: Counter[tuple[str, ...]] = Counter()
    lock = threading.Lock()
    prefix = f"t{time.monotonic_ns()}:poller"
    loops = []
    for index in range(2):
        leases = FallbackLeases(
            RedisLeases(redis_client_for(test_redis), prefix=prefix),
            DatabaseLeases(sql_alias("postgres")),
            retry_seconds=0.5,
        )
        poller = Poller(
            fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0)),
            circuit_policy=CircuitPolicy(failure_threshold=100, cooldown=timedelta(seconds=60)),
            process_id=f"test-{index}",
        )
        loops.append(
            PollerLoop(
                poller,
                Recording(leases, won, where, lock),
                concurrency=3,
                jitter_fraction=0.2,
                heartbeat_seconds=1,
                reload_seconds=60,
                progress_seconds=600,
                process_id=f"test-{index}",
                write=lambda line: None,
            )
        )
    threads = [threading.Thread(target=loop.run, name=f"loop-{i}") for i, loop in enumerate(loops)]
    for thread in threads:
        thread.start()

    def polls_since(moment: float) -> Counter[str]:
        return Counter(r for r in REGIONS for t in simulator.requests_for(r) if t >= moment)

    try:
        wait_for(lambda: min(polls_since(0).get(r, 0) for r in REGIONS) >= 2, 30, "polls with Redis up")
        outage = time.time()
        test_redis.stop()
        wait_for(lambda: min(polls_since(outage).get(r, 0) for r in REGIONS) >= 3, 60, "polls during the outage")
        back = time.time()
        test_redis.start()
        wait_for(lambda: min(polls_since(back).get(r, 0) for r in REGIONS) >= 3, 60, "polls after Redis returned")
    finally:
        for loop in loops:
            loop.shutdown = True
        for thread in threads:
            thread.join(30)

    claimed = Counter(won)
    assert max(claimed.values()) == 1, [key for key, n in claimed.items() if n > 1]  # no slot polled twice
    assert sum(len(simulator.requests_for(r)) for r in REGIONS) == len(won)  # every won slot was one request
    for region in REGIONS:
        slots = sorted(slot for slug, slot in won if slug == region)
        gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
        # At most the slot under way when Redis went is skipped: never two slots in a row.
        assert max(gaps) <= 2, (region, slots)
    assert where[("db",)] >= len(REGIONS) * 2, where  # the database really stood in during the outage
    assert where[("redis",)] + where[("redis", "db")] > 0, where  # Redis decided before and after it


class Counting(LeaseBackend):
    """Delegates to a real backend and counts the calls that reached it."""

    def __init__(self, inner: LeaseBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: Counter[str] = Counter()

    def claim(self, slug: str, slot: int, slot_ttl: float, lease_ttl: float) -> Lease | None:
        self.calls["claim"] += 1
        return self.inner.claim(slug, slot, slot_ttl, lease_ttl)

    def extend(self, lease: Lease, lease_ttl: float) -> bool:
        self.calls["extend"] += 1
        return self.inner.extend(lease, lease_ttl)

    def release(self, lease: Lease) -> bool:
        self.calls["release"] += 1
        return self.inner.release(lease)


@pytest.mark.parametrize("kind", databases("sqlite"))
def test_it_stops_waiting_on_a_redis_that_does_not_answer_when_extending_leases(
    kind: str, test_redis: RedisServer
) -> None:
    alias = sql_alias(kind)
    slot = 2_000_000
    clock = Clock(start_of(slot) + 1)
    redis_part = Counting(RedisLeases(redis_client_for(test_redis), prefix=f"t{time.monotonic_ns()}:poller"))
    leases = FallbackLeases(redis_part, DatabaseLeases(alias), retry_seconds=5.0, clock=clock)
    clock.now += 2 * INTERVAL + 1  # past the start-up window in which claims also go to the database
    slot += 2
    held = [leases.claim(f"{SLUG}-{n}", slot, slot_ttl=2 * INTERVAL, lease_ttl=5) for n in range(5)]
    assert all(lease is not None and lease.held_in == ("redis",) for lease in held)
    assert test_redis.process is not None
    test_redis.process.send_signal(signal.SIGSTOP)  # it accepts connections and answers nothing: packets lost
    try:
        assert [leases.extend(lease, 5) for lease in held if lease] == [False] * 5
        # The first extension timed out and marked Redis down: the other four did not wait on it again.
        assert redis_part.calls["extend"] == 1
        assert leases.down_since is not None
        assert not any(leases.release(lease) for lease in held if lease)
        assert redis_part.calls["release"] == 0
        clock.now += 5.0  # the next probe is due: one call tries Redis again
        assert leases.extend(held[0], 5) is False  # type: ignore[arg-type]
        assert redis_part.calls["extend"] == 2
    finally:
        test_redis.process.send_signal(signal.SIGCONT)
    clock.now += 5.0
    assert leases.extend(held[1], 5)  # type: ignore[arg-type]  # back: extended in Redis, no longer down
    assert leases.down_since is None
