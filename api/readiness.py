"""Readiness checks: each dependency answers a real round trip within its timeout, or is down."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import connection

from metrics.stores import get_store
from pollers.models import PollerProcess

logger = logging.getLogger("api.ready")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "down", "latency_ms": round(self.latency_ms, 2), "detail": self.detail}


class NotReady(Exception):
    """A check ran but the dependency is not usable; the message is safe to show."""


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    # The Redis cache swallows errors (IGNORE_EXCEPTIONS), so only reading back what was written proves it works.
    cache = caches["default"]
    key = f"ready:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    read = cache.get(key)
    cache.delete(key)
    if read != value:
        raise NotReady("a value written to the cache could not be read back")
    return type(cache).__name__


def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise NotReady("no channel layer configured")

    async def round_trip() -> None:
        channel = await layer.new_channel("ready.")
        await layer.send(channel, {"type": "ready.probe"})
        message = await asyncio.wait_for(layer.receive(channel), timeout=settings.API_READY_TIMEOUT)
        if message.get("type") != "ready.probe":
            raise NotReady("the channel layer returned another message")

    async_to_sync(asyncio.wait_for)(round_trip(), settings.API_READY_TIMEOUT)
    return type(layer).__name__


def check_metric_store() -> str:
    store = get_store()
    # Past the read cache (a cached answer proves nothing about the database), through the same pools.
    backend = getattr(store, "backend_store", store)
    # An indexed read of a slug that never exists: touches the server, costs nothing.
    backend.latest("__readiness_probe__")
    return store.backend


def check_poller() -> str:
    max_age = timedelta(seconds=settings.API_READY_POLLER_MAX_AGE)
    alive = PollerProcess.objects.alive(max_age).filter(stopped_at__isnull=True).count()
    if alive == 0:
        raise NotReady(f"no poller heartbeat in the last {settings.API_READY_POLLER_MAX_AGE} s")
    return f"{alive} alive"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "cache": check_cache,
    "channel_layer": check_channel_layer,
    "metric_store": check_metric_store,
    "poller": check_poller,
}


def run_check(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except NotReady as exc:
        detail, ok = str(exc), False
    except Exception as exc:
        # The exception text can carry hosts or URLs with passwords; the class name is enough to act on.
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
        detail, ok = f"unavailable ({type(exc).__name__})", False
    return CheckResult(name, ok, (time.perf_counter() - started) * 1000, detail)


def run_checks() -> tuple[bool, dict[str, CheckResult]]:
    results = {name: run_check(name, check) for name, check in CHECKS.items()}
    required = [r for r in results.values() if r.name != "poller" or settings.API_READY_REQUIRE_POLLER]
    return all(r.ok for r in required), results
