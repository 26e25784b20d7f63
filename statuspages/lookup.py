"""Finding a page by slug or by custom host name, cached under the ``pages`` generation.

Every public request starts here, so with a warm cache it costs no database query and one cache round
trip (the entry is stamped with the generation, statuspages/generations.py ``current_with``). Unpublished pages
are found too: whether a visitor may see one is statuspages/access.py's question.
"""

from __future__ import annotations

from django.core.cache import cache

from statuspages import generations
from statuspages.models import StatusPage

LOOKUP_SECONDS = 300
_MISSING = "missing"


def _cached(key_part: str, **filters: str) -> StatusPage | None:
    key = f"statuspages:lookup:{key_part}"
    generation, found = generations.current_with([generations.PAGES], [key])
    if generation is not None:
        entry = generations.stamped(found.get(key), generation)
        if isinstance(entry, StatusPage):
            return entry
        if entry == _MISSING:
            return None
    page = StatusPage.objects.filter(**filters).first()
    if generation is not None:
        cache.set(key, (generation, page if page is not None else _MISSING), LOOKUP_SECONDS)
    return page


def by_slug(slug: str) -> StatusPage | None:
    return _cached(f"slug:{slug}", slug=slug)


def by_host(host: str) -> StatusPage | None:
    """The page whose custom host is ``host`` (lowercase, no port), if any."""
    if not host:
        return None
    return _cached(f"host:{host}", custom_host=host)
