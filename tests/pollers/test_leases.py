"""Leases: one claim per slot, only the owner releases or extends, expiry frees a dead owner's source."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pollers.leases import Lease, LeaseBackend, LocalLeases, RedisLeases


@pytest.fixture(params=["redis", "local"])
def backends(request: pytest.FixtureRequest) -> Iterator[tuple[LeaseBackend, LeaseBackend]]:
    """Two lease backends sharing state the way two poller processes do (Redis) or one process (local)."""
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        import redis

        other = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        yield RedisLeases(client, prefix="t:poller"), RedisLeases(other, prefix="t:poller")
        other.close()
    else:
        local = LocalLeases()
        yield local, local


def test_it_lets_exactly_one_claim_a_slot(backends: tuple[LeaseBackend, LeaseBackend]) -> None:
    first, second = backends
    won: list[Lease] = []
    barrier = threading.Barrier(16)

    def claim(backend: LeaseBackend) -> None:
        barrier.wait()
        lease = backend.claim("us-east", 100, slot_ttl=10, lease_ttl=5)
        if lease is not None:
            won.append(lease)

    threads = [threading.Thread(target=claim, args=(first if i % 2 else second,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_it_never_claims_a_slot_twice_even_after_release(backends: tuple[LeaseBackend, LeaseBackend]) -> None:
    first, second = backends
    lease = first.claim("us-east", 7, slot_ttl=10, lease_ttl=5)
    assert lease is not None
    assert first.release(lease)
    assert second.claim("us-east", 7, slot_ttl=10, lease_ttl=5) is None  # slot 7 was polled
    assert second.claim("us-east", 8, slot_ttl=10, lease_ttl=5) is not None


def test_it_keeps_a_source_in_flight_from_being_claimed_again(backends: tuple[LeaseBackend, LeaseBackend]) -> None:
    first, second = backends
    lease = first.claim("eu-west", 1, slot_ttl=10, lease_ttl=5)
    assert lease is not None
    assert second.claim("eu-west", 2, slot_ttl=10, lease_ttl=5) is None  # still polling slot 1
    assert second.claim("us-west", 2, slot_ttl=10, lease_ttl=5) is not None  # other sources unaffected
    first.release(lease)
    assert second.claim("eu-west", 2, slot_ttl=10, lease_ttl=5) is not None


def test_it_releases_and_extends_only_for_the_owner(backends: tuple[LeaseBackend, LeaseBackend]) -> None:
    first, second = backends
    lease = first.claim("sa-east", 1, slot_ttl=10, lease_ttl=5)
    assert lease is not None
    forged = Lease(lease.slug, lease.slot, "not-the-token")
    assert not second.release(forged)
    assert not second.extend(forged, 30)
    assert second.claim("sa-east", 2, slot_ttl=10, lease_ttl=5) is None  # the forgery changed nothing
    assert first.extend(lease, 30)
    assert first.release(lease)
    assert not first.release(lease)  # already gone


def test_it_frees_a_dead_owners_source_when_the_lease_expires(backends: tuple[LeaseBackend, LeaseBackend]) -> None:
    first, second = backends
    assert first.claim("ap-southeast", 1, slot_ttl=10, lease_ttl=0.2) is not None
    # The owner "dies" without releasing; nobody can take the source until the TTL passes.
    assert second.claim("ap-southeast", 2, slot_ttl=10, lease_ttl=5) is None
    time.sleep(0.3)
    assert second.claim("ap-southeast", 3, slot_ttl=10, lease_ttl=5) is not None


def test_it_extends_a_lease_past_its_first_ttl(backends: tuple[LeaseBackend, LeaseBackend]) -> None:
    first, second = backends
    lease = first.claim("us-west", 1, slot_ttl=10, lease_ttl=0.3)
    assert lease is not None
    assert first.extend(lease, 2.0)
    time.sleep(0.4)
    assert second.claim("us-west", 2, slot_ttl=10, lease_ttl=5) is None


def test_it_expires_redis_keys_so_nothing_piles_up(redis_client: Any) -> None:
    leases = RedisLeases(redis_client, prefix="t:poller")
    lease = leases.claim("us-east", 5, slot_ttl=4, lease_ttl=2)
    assert lease is not None
    lease_key, slot_key = leases.keys("us-east", 5)
    assert 0 < redis_client.pttl(lease_key) <= 2000
    assert 2000 < redis_client.pttl(slot_key) <= 4000
    assert redis_client.get(lease_key).decode() == lease.token
