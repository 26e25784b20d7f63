"""What the staff system page reports about the running system; credentials never leave this module."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Probe:
    backend: str
    location: str
    ok: bool
    detail: str
    latency_ms: float | None = None


def redact_url(url: str) -> str:
    """``redis://:secret@host:6379/0`` -> ``redis://:••••@host:6379/0``: the password never reaches a page."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    netloc = f"{user}:••••@{host}" if parts.password is not None else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _locations(value: Any) -> str:
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, list | tuple):
        return ", ".join(_locations(v) for v in value)
    if isinstance(value, dict) and "address" in value:
        return _locations(value["address"])
    return ""


def probe_cache() -> Probe:
    conf = settings.CACHES["default"]
    backend = str(conf["BACKEND"]).rsplit(".", 1)[-1]
    key = f"system-probe:{uuid.uuid4().hex}"
    started = time.perf_counter()
    try:
        cache.set(key, "1", timeout=10)
        ok = cache.get(key) == "1"
        cache.delete(key)
    except Exception as exc:  # any backend failure is what this probe reports
        return Probe(backend, _locations(conf.get("LOCATION", "")), False, type(exc).__name__)
    latency = (time.perf_counter() - started) * 1000
    # django-redis is configured to swallow errors, so a failed round trip shows as a miss.
    return Probe(
        backend, _locations(conf.get("LOCATION", "")), ok, "set/get round trip" if ok else "round trip failed", latency
    )


def probe_channel_layer() -> Probe:
    conf: dict[str, Any] = dict(settings.CHANNEL_LAYERS.get("default", {}))
    backend = str(conf.get("BACKEND", "")).rsplit(".", 1)[-1]
    location = _locations(dict(conf.get("CONFIG", {})).get("hosts", []))
    layer = get_channel_layer()
    if layer is None:
        return Probe(backend or "none", location, False, "no channel layer configured")

    async def round_trip() -> bool:
        import asyncio

        channel = await layer.new_channel()
        await layer.send(channel, {"type": "system.probe"})
        message = await asyncio.wait_for(layer.receive(channel), PROBE_TIMEOUT)
        return bool(message.get("type") == "system.probe")

    started = time.perf_counter()
    try:
        ok = async_to_sync(round_trip)()
    except Exception as exc:  # outage, timeout: reported, never raised to the page
        return Probe(backend, location, False, type(exc).__name__)
    return Probe(backend, location, ok, "send/receive round trip", (time.perf_counter() - started) * 1000)
