"""A generation on the shared cache (devops_insights.shared_cache): one random value per key that any
process replaces to say "what you keep under this key is stale".

A per-process snapshot (the alert rules of alerts.rule_cache, the realtime access of realtime.access)
remembers the generation it was loaded under and is reused while the cache still holds that value.
Ground floor: every app may import it; it imports no project app.
"""

from __future__ import annotations

import uuid

from devops_insights.shared_cache import shared_cache


def read(key: str) -> str | None:
    """The current generation of ``key``; None when the cache cannot say (then nothing kept may be reused).

    On first use, or after a loss (restart, eviction), a new random value is stored, which no kept
    snapshot carries; ``add`` keeps a value another process stored meanwhile.
    """
    try:
        cache = shared_cache()
        value = cache.get(key)
        if value is None:
            cache.add(key, uuid.uuid4().hex, None)
            value = cache.get(key)
    except Exception:  # the cache is optional: the caller falls back to its time limit
        return None
    return None if value is None else str(value)


def replace(key: str) -> None:
    """Give ``key`` a new generation, so every process reloads what it keeps under it.

    Raises what the cache raises: the caller says in its own log what a missed invalidation means.
    """
    shared_cache().set(key, uuid.uuid4().hex, None)
