"""Template context every page gets: whether the signed-in user may operate or manage in the current team.

Pages about one object (a source's drill-down) replace these flags with the user's rights in that
object's team (``dashboard.access.abilities``).
"""

from __future__ import annotations

from django.http import HttpRequest

from dashboard.access import abilities


def operator(request: HttpRequest) -> dict[str, bool]:
    if not request.user.is_authenticated:
        return {"can_operate": False, "can_manage": False}
    return abilities(request)
