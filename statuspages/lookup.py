"""Finding a page by slug, by custom host name or by a component's badge key, cached under the ``pages``
generation.

Every public request starts here, so with a warm cache it costs no database query and one cache round
trip (the entry is stamped with the generation, statuspages/generations.py ``current_with``). Unpublished pages
and components are found too: whether a visitor may see one is statuspages/access.py's question, or the
badge view's, asked again whenever the page's own generation moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar, cast

from django.core.cache import cache

from statuspages import generations
from statuspages.busy import release_pooled_connections
from statuspages.models import Component, StatusPage

T = TypeVar("T")

LOOKUP_SECONDS = 300
BADGE_KEY_MAX_CHARS = 64  # Component.badge_key's max_length: a longer key names nothing
_MISSING = "missing"


def _cached(key_part: str, find: Callable[[], T | None], kind: type | tuple[type, ...]) -> T | None:
    key = f"statuspages:lookup:{key_part}"
    generation, found = generations.current_with([generations.PAGES], [key])
    if generation is not None:
        entry = generations.stamped(found.get(key), generation)
        if isinstance(entry, kind):
            return cast(T, entry)  # ``kind`` is T's class
        if entry == _MISSING:
            return None
    try:
        value = find()
    finally:
        release_pooled_connections()  # back to the pool at once: every request in flight may be here
    if generation is not None:
        cache.set(key, (generation, value if value is not None else _MISSING), LOOKUP_SECONDS)
    return value


def by_slug(slug: str) -> StatusPage | None:
    return _cached(f"slug:{slug}", StatusPage.objects.filter(slug=slug).first, StatusPage)


def by_host(host: str) -> StatusPage | None:
    """The page whose custom host is ``host`` (lowercase, no port), if any."""
    if not host:
        return None
    return _cached(f"host:{host}", StatusPage.objects.filter(custom_host=host).first, StatusPage)


def by_badge_key(key: str) -> tuple[StatusPage, int] | None:
    """The page and the id of the component whose badge key is ``key``, if any.

    Published or not, and the page as of the ``pages`` generation: a component's changes (unpublished,
    its key rotated, deleted) move only its page's generation, so the badge view checks the component
    again each time it makes an answer under a new one (statuspages/feed_views.py ``key_badge``). A key
    that names no component cannot name one later (keys are random), so its absence is cached too.
    """
    if not key or len(key) > BADGE_KEY_MAX_CHARS:
        return None

    def find() -> tuple[StatusPage, int] | None:
        component = Component.objects.select_related("page").filter(badge_key=key).first()
        return None if component is None else (component.page, component.pk)

    # The key is a capability: hashed, it never appears in a cache key.
    return _cached(f"badge:{hashlib.sha256(key.encode()).hexdigest()[:32]}", find, tuple)
