"""Generation counters on the shared cache: a cached page is keyed by the generations it was built from.

The counters live in ``shared_cache()`` because the poller bumps ``health`` and daphne reads it: without
Redis the default cache (where the pages themselves stay) is each process's own memory, and a bump there
never reached the web process, which served the old page until it expired. With Redis both are the same
cache and the counters and entries are still read in one round trip; without it a warm page costs one
read of the cache table (docs/configuration.md, "The shared cache").

Bumping a counter after a change makes every later reader ask for a key nobody has filled yet, so no
reader sees content older than the change, whatever TTL is left on older keys (as metrics/read_cache.py).
An entry a warm request reads on every visit is kept instead under a fixed key, stamped with the
generation it was built under, and read in the same round trip as the counters (``current_with``): a
stamp other than the current generation is a miss, so the guarantee is the same.

Scopes: ``pages`` (any page's slug, host, visibility or password), ``page:<id>`` (what one page shows:
its components, incidents, updates, maintenance windows, a source of its components deleted) and ``health``
(any source's poll health or alert state changed; a page's states depend on them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.core.cache import cache

from devops_insights.shared_cache import is_default_cache, shared_cache

PAGES = "pages"
HEALTH = "health"
# ``stamped``'s answer for an entry absent or built under another generation (None is a value).
MISSING = object()


def page_scope(page_id: int) -> str:
    return f"page:{page_id}"


def _key(scope: str) -> str:
    return f"statuspages:gen:{scope}"


def current(*scopes: str) -> str | None:
    """The scopes' generations as one key part; None when the cache cannot say (then build, do not cache)."""
    return current_with(scopes, [])[0]


def current_with(scopes: Sequence[str], keys: Sequence[str]) -> tuple[str | None, dict[str, Any]]:
    """``current(*scopes)`` and the cache entries at ``keys`` (those found), in one round trip.

    For entries kept under a fixed key and stamped with the generation they were built under (see
    ``stamped``): a warm reader learns the generation and fetches what was built under it at once,
    instead of reading the generation first to name the key.
    """
    scope_keys = [_key(scope) for scope in scopes]
    counters = shared_cache()
    if is_default_cache():  # Redis: counters and entries in one round trip
        found = counters.get_many([*scope_keys, *keys])
    else:
        found = {**counters.get_many(scope_keys), **(cache.get_many(keys) if keys else {})}
    missing = [key for key in scope_keys if key not in found]
    for key in missing:
        # A counter that vanished restarts from the clock, never from a number an old key could carry.
        counters.add(key, time.time_ns(), None)
    if missing:
        found.update(counters.get_many(missing))
    if any(found.get(key) is None for key in scope_keys):
        return None, {}
    return ".".join(str(found[key]) for key in scope_keys), {key: found[key] for key in keys if key in found}


def stamped(entry: object, generation: str) -> object:
    """What a ``current_with`` entry built under ``generation`` holds, when it was (else ``MISSING``)."""
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
        return entry[1]
    return MISSING


def bump(*scopes: str) -> None:
    counters = shared_cache()
    for scope in scopes:
        key = _key(scope)
        try:
            counters.incr(key)
        except ValueError:  # no counter yet: a fresh clock-based one is already newer than any old key
            counters.add(key, time.time_ns(), None)
