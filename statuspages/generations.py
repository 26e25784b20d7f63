"""Generation counters on the shared cache: a cached page is keyed by the generations it was built from.

Bumping a counter after a change makes every later reader ask for a key nobody has filled yet, so no
reader sees content older than the change, whatever TTL is left on older keys (as metrics/read_cache.py).

Scopes: ``pages`` (any page's slug, host, visibility or password), ``page:<id>`` (what one page shows:
its components, incidents, updates, maintenance windows) and ``health`` (any source's poll health or
alert state changed; a page's states depend on them).
"""

from __future__ import annotations

import time

from django.core.cache import cache

PAGES = "pages"
HEALTH = "health"


def page_scope(page_id: int) -> str:
    return f"page:{page_id}"


def _key(scope: str) -> str:
    return f"statuspages:gen:{scope}"


def current(*scopes: str) -> str | None:
    """The scopes' generations as one key part; None when the cache cannot say (then build, do not cache)."""
    keys = [_key(scope) for scope in scopes]
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:
        # A counter that vanished restarts from the clock, never from a number an old key could carry.
        cache.add(key, time.time_ns(), None)
    if missing:
        found.update(cache.get_many(missing))
    if any(found.get(key) is None for key in keys):
        return None
    return ".".join(str(found[key]) for key in keys)


def bump(*scopes: str) -> None:
    for scope in scopes:
        key = _key(scope)
        try:
            cache.incr(key)
        except ValueError:  # no counter yet: a fresh clock-based one is already newer than any old key
            cache.add(key, time.time_ns(), None)
