"""Since when a page's published states (the overall state and each component's) have been what they are.

States are derived, never stored (statuspages/state.py), so nothing in the database moves when a source goes
down and a component turns ``partial_outage``. The Statuspage v2 ``page.updated_at`` must move then (its
readers poll it to learn that something changed), so the page's content remembers, in the shared cache, the
states it last showed and the moment it first showed them: the ``generated_at`` of the first content built
with them. A page whose states were never seen to change (new, or the cache lost them) has no such moment:
its ``updated_at`` falls back to its edits and incidents, never to "now", which would move at every read.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.core.cache import cache

from statuspages.content import PageContent

# As long as the states: a page whose states never change keeps its moment however long it stays quiet.
NEVER_EXPIRES = None


def since_key(page_id: int) -> str:
    return f"statuspages:states-since:{page_id}"


def fingerprint(content: PageContent) -> str:
    states = [content.overall.value, *(f"{c.id}:{c.state.value}" for c in content.components)]
    return hashlib.sha256("\n".join(states).encode()).hexdigest()[:16]


def states_changed_at(content: PageContent) -> datetime | None:
    """When the page's states first read as they do in ``content``; None when no change was ever seen."""
    key = since_key(content.page_id)
    now_showing = fingerprint(content)
    seen = cache.get(key)
    if isinstance(seen, tuple) and seen[0] == now_showing:
        return seen[1]
    # The first sight of these states: a change when other states were seen before, else only a start.
    moment = content.generated_at if isinstance(seen, tuple) else None
    cache.set(key, (now_showing, moment), NEVER_EXPIRES)
    return moment
