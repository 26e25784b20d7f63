"""The Redis connection the pollers coordinate through (leases, per-host rate limits), when REDIS_URL is set."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings


def key_prefix() -> str:
    return f"{settings.CACHE_KEY_PREFIX}:poller"


@cache
def _client(url: str, connect_timeout: float, socket_timeout: float) -> Any:
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout, health_check_interval=30
    )


def redis_client() -> Any | None:
    """A shared client (thread-safe, pooled) for settings.REDIS_URL, or None without Redis."""
    if not settings.REDIS_URL:
        return None
    return _client(settings.REDIS_URL, settings.POLLER_REDIS_TIMEOUT, settings.POLLER_REDIS_TIMEOUT)
