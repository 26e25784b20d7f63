"""Which team owns each source, kept in memory per process, so live events are filtered without a query.

Every event names its source by slug. A connection knows the teams it may read (``accounts.teams``), and
this map says the team of a slug: the check per event and connection is two dictionary lookups, and an
event never waits for the database thread. The map is read whole (one statement) when a connection opens
or sends a request and the map is older than ``REALTIME_REAUTH_INTERVAL`` (a source moved to another
team), after a source is saved or deleted in this process, and when an event names a slug it does not
know (a source added since), at most once per ``MISS_RELOAD_SECONDS`` so that events of a deleted
source cannot make it hammer the database.
"""

from __future__ import annotations

import time

from channels.db import database_sync_to_async

from pollers.models import Source

MISS_RELOAD_SECONDS = 1.0


class Unknown:
    """``known_team``'s answer when the map must be read before it can say."""


UNKNOWN_TEAM = Unknown()


@database_sync_to_async
def _read_all() -> dict[str, int]:
    return dict(Source.objects.values_list("slug", "team_id"))


class SourceTeams:
    def __init__(self) -> None:
        self.teams: dict[str, int] = {}
        self.loaded_at: float | None = None

    async def refresh_if_older(self, max_age: float) -> None:
        """Read the map again if it was never read or is older than ``max_age`` seconds."""
        if self.loaded_at is None or time.monotonic() - self.loaded_at > max_age:
            await self.reload()

    async def reload(self) -> None:
        self.teams = await _read_all()
        self.loaded_at = time.monotonic()

    def known_team(self, slug: str) -> int | Unknown | None:
        """The team of ``slug`` without reading (None: no such source); ``UNKNOWN_TEAM`` when the map
        must be read first: never read yet, or it does not know the slug and was not read just now."""
        team = self.teams.get(slug)
        if team is not None and self.loaded_at is not None:
            return team
        if self.loaded_at is None or time.monotonic() - self.loaded_at > MISS_RELOAD_SECONDS:
            return UNKNOWN_TEAM
        return None

    async def team_of(self, slug: str) -> int | None:
        """The team of ``slug``; reads the map only if it was never read or does not know the slug yet."""
        team = self.known_team(slug)
        if isinstance(team, Unknown):
            await self.reload()
            return self.teams.get(slug)
        return team

    def forget(self) -> None:
        """Read the map again on next use (tests; a process that knows sources moved)."""
        self.loaded_at = None


SOURCE_TEAMS = SourceTeams()
