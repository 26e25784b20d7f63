"""Which team owns each source, kept in memory per process, so live events are filtered without a query.

Every event names its source by slug. A connection knows the teams it may read (``accounts.teams``), and
this map says the team of a slug: the check per event and connection is two dictionary lookups. The map
is read whole (one statement) on first use, when it is older than ``REALTIME_REAUTH_INTERVAL`` (a source
moved to another team), and when an event names a slug it does not know (a source added since), at most
once per ``MISS_RELOAD_SECONDS`` so that events of a deleted source cannot make it hammer the database.
"""

from __future__ import annotations

import time

from channels.db import database_sync_to_async
from django.conf import settings

from pollers.models import Source

MISS_RELOAD_SECONDS = 1.0


@database_sync_to_async
def _read_all() -> dict[str, int]:
    return dict(Source.objects.values_list("slug", "team_id"))


class SourceTeams:
    def __init__(self) -> None:
        self.teams: dict[str, int] = {}
        self.loaded_at: float | None = None

    async def team_of(self, slug: str) -> int | None:
        now = time.monotonic()
        age = None if self.loaded_at is None else now - self.loaded_at
        if (
            age is None
            or age > settings.REALTIME_REAUTH_INTERVAL
            or (slug not in self.teams and age > MISS_RELOAD_SECONDS)
        ):
            self.teams = await _read_all()
            self.loaded_at = time.monotonic()
        return self.teams.get(slug)

    def forget(self) -> None:
        """Read the map again on next use (tests; a process that knows sources moved)."""
        self.loaded_at = None


SOURCE_TEAMS = SourceTeams()
