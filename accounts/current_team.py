"""The team a signed-in user is working in: kept in the session, switched from the navigation.

Lists (overview, alerts page, system counts) show the current team's objects, and what the dashboard
creates belongs to it. A user with one team never chooses; a user whose current team is gone or who
lost their membership falls back to their first team. Opening another readable team's object by URL
still works: the access rule (``accounts.teams``) decides reads, the current team only narrows lists.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest

from accounts.models import Membership, Role, Team
from accounts.teams import Action, role_in, teams_of

SESSION_KEY = "current_team_id"
_CACHE_ATTR = "_current_team"
_ROLE_ATTR = "_current_team_role"
_TEAMS_ATTR = "_readable_teams"


def current_team(request: HttpRequest) -> Team | None:
    """The request's team (cached on the request): the session's choice if still readable, else the first."""
    if hasattr(request, _CACHE_ATTR):
        cached: Team | None = getattr(request, _CACHE_ATTR)
        return cached
    team: Team | None = None
    user = request.user
    if user.is_authenticated and user.is_active:
        teams = readable_teams(request)
        wanted = request.session.get(SESSION_KEY)
        if isinstance(wanted, int):
            team = next((t for t in teams if t.pk == wanted), None)
        if team is None:
            # A superuser reads every team; start in one they belong to, if any.
            team = next((t for t in teams if t.my_role is not None), teams[0] if teams else None)  # type: ignore[attr-defined]
        if team is not None:
            setattr(request, _ROLE_ATTR, Role.ADMIN if user.is_superuser else team.my_role)  # type: ignore[attr-defined]
    setattr(request, _CACHE_ATTR, team)
    return team


def readable_teams(request: HttpRequest) -> list[Team]:
    """Every team the user may read, by name, each with the user's role as ``my_role`` (cached on the request).

    One statement serves both the current team and the navigation's switcher, which lists them all on
    every page anyway.
    """
    if not hasattr(request, _TEAMS_ATTR):
        teams: list[Team] = []
        user = request.user
        if user.is_authenticated and user.is_active:
            # The user's role comes with each team in the same statement: every page needs both.
            mine = Membership.objects.filter(team=OuterRef("pk"), user=user).values("role")[:1]
            teams = list(teams_of(user, Action.READ).annotate(my_role=Subquery(mine)))
        setattr(request, _TEAMS_ATTR, teams)
    found: list[Team] = getattr(request, _TEAMS_ATTR)
    return found


def current_role(request: HttpRequest) -> str | None:
    """The user's role in the current team (admin for a superuser), cached on the request."""
    if not hasattr(request, _ROLE_ATTR):
        setattr(request, _ROLE_ATTR, role_in(request.user, current_team(request)))
    role: str | None = getattr(request, _ROLE_ATTR)
    return role


def switch_team(request: HttpRequest, team_id: int) -> Team | None:
    """Make ``team_id`` the current team if the user may read it; the new team, or None (unchanged)."""
    team = teams_of(request.user, Action.READ).filter(pk=team_id).first()
    if team is not None:
        request.session[SESSION_KEY] = team.pk
        setattr(request, _CACHE_ATTR, team)
        if hasattr(request, _ROLE_ATTR):
            delattr(request, _ROLE_ATTR)  # role_in reads it again for the new team
    return team


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context for the team switcher: the current team and the teams to switch to (lazily)."""
    if not request.user.is_authenticated:
        return {}
    return {
        "current_team": current_team(request),
        "switchable_teams": lambda: readable_teams(request),
    }
