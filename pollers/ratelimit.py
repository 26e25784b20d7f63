"""A token bucket per upstream host, so many sources on one host cannot flood it.

With Redis the bucket is shared by every poller process (one Lua script, Redis's clock);
without it each process keeps its own. A Redis outage lets requests through rather than
stopping all polling: the limit protects upstreams from bursts, it is not a security control.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from django.conf import settings

from pollers.coordination import key_prefix, redis_client

logger = logging.getLogger("pollers.ratelimit")


class RateLimiter(Protocol):
    def try_acquire(self, host: str) -> float:
        """Take one token for ``host``: 0.0 when granted, else the seconds until one is available."""
        ...


def acquire(limiter: RateLimiter, host: str, stop: threading.Event | None = None, timeout: float = 60.0) -> bool:
    """Block until ``host`` may get a request; False when stopped or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        wait = limiter.try_acquire(host)
        if wait <= 0:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        delay = min(wait, remaining)
        if stop is not None:
            if stop.wait(delay):
                return False
        else:
            time.sleep(delay)


class LocalRateLimiter:
    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # host -> (tokens, monotonic time)

    def try_acquire(self, host: str) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.get(host, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= 1:
                self._buckets[host] = (tokens - 1, now)
                return 0.0
            self._buckets[host] = (tokens, now)
            return (1 - tokens) / self.rate


# Refill, then take one token or say how long until there is one. Redis's own clock keeps
# processes on different machines consistent; the float crosses back as a string (Lua numbers
# become integers in Redis replies).
BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    def __init__(self, client: Any, rate: float, burst: float | None = None, prefix: str | None = None) -> None:
        self.client = client
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.prefix = prefix if prefix is not None else key_prefix()
        self._script = client.register_script(BUCKET_LUA)

    def try_acquire(self, host: str) -> float:
        try:
            return float(self._script(keys=[f"{self.prefix}:rate:{host}"], args=[self.rate, self.burst]))
        except Exception as exc:  # redis.RedisError and socket errors alike
            logger.warning("rate limit check failed, letting the request through: %s", type(exc).__name__)
            return 0.0


def build_rate_limiter() -> RateLimiter:
    client = redis_client()
    rate = float(settings.POLLER_HOST_RATE_PER_SECOND)
    if client is None:
        return LocalRateLimiter(rate)
    return RedisRateLimiter(client, rate)
