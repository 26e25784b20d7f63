"""How many HTTP requests a web process runs in Django at once (its request slots): one home for the number the
admission queue (devops_insights/admission.py) enforces and that other limits are a share of
(dashboard/inline_fetches.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

FALLBACK_LIMIT = 32  # SQLite, or PostgreSQL without the pool: nothing smaller bounds the threads


def limit_for(chosen: int, database: dict[str, Any]) -> int:
    """``chosen`` (``WEB_MAX_CONCURRENT_REQUESTS``), or when it is 0 the size of ``database``'s pool, else
    ``FALLBACK_LIMIT``."""
    if chosen:
        return chosen
    pool = database.get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict) and pool.get("max_size"):
        return int(pool["max_size"])
    return FALLBACK_LIMIT


def request_slots() -> int:
    """This deployment's request slots per web process, from the settings as they are now."""
    return limit_for(settings.WEB_MAX_CONCURRENT_REQUESTS, settings.DATABASES["default"])
