"""The per-host token bucket, in-process and shared through real Redis."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from pollers.ratelimit import LocalRateLimiter, RedisRateLimiter, acquire


def test_it_allows_a_burst_then_spaces_requests_locally() -> None:
    limiter = LocalRateLimiter(rate=10, burst=3)
    assert [limiter.try_acquire("a.example") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.try_acquire("a.example")
    assert 0.05 < wait <= 0.1
    assert limiter.try_acquire("b.example") == 0.0  # each host has its own bucket
    time.sleep(0.11)
    assert limiter.try_acquire("a.example") == 0.0


def test_it_shares_one_bucket_per_host_across_processes(redis_client: Any, redis_url: str) -> None:
    other_client = redis.Redis.from_url(redis_url)
    one = RedisRateLimiter(redis_client, rate=5, burst=5, prefix="t:poller")
    two = RedisRateLimiter(other_client, rate=5, burst=5, prefix="t:poller")
    granted = [l.try_acquire("up.example") == 0.0 for l in (one, two) * 5]  # noqa: E741
    assert granted.count(True) == 5  # the two "processes" share the five tokens
    assert 0 < two.try_acquire("up.example") <= 0.2
    assert one.try_acquire("other.example") == 0.0
    other_client.close()


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_it_holds_requests_to_the_rate(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "redis":
        limiter: Any = RedisRateLimiter(request.getfixturevalue("redis_client"), rate=20, burst=1, prefix="t:p")
    else:
        limiter = LocalRateLimiter(rate=20, burst=1)
    granted: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            assert acquire(limiter, "flood.example", timeout=5)
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 20 requests at 20/s with a burst of 1: about a second, never much faster.
    assert len(granted) == 20
    assert max(granted) - started >= 0.85


def test_it_gives_up_when_stopped() -> None:
    limiter = LocalRateLimiter(rate=0.1, burst=1)
    assert acquire(limiter, "slow.example", timeout=1)
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert not acquire(limiter, "slow.example", stop=stop, timeout=5)
    assert time.monotonic() - started < 0.5
    assert not acquire(limiter, "slow.example", timeout=0.2)


def test_it_lets_requests_through_when_redis_is_down() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert RedisRateLimiter(dead, rate=1, burst=1, prefix="t").try_acquire("x.example") == 0.0
