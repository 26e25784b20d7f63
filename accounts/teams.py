"""Who may do what in which team: the one home of every access rule.

Rules (docs/accounts.md, "Teams and roles"):

- Every source, alert rule, channel, silence, API token (and status page, board) belongs to one team.
- A membership gives a user one role in one team. Roles are ranked: viewer < operator < admin, and each
  role may do everything the roles below it may.
- An action needs a minimum role: ``READ`` (dashboards, API reads, live updates) needs viewer;
  ``OPERATE`` (silence, acknowledge, pause, resume, poll now) needs operator; ``MANAGE`` (sources,
  rules, channels, tokens, members) needs admin.
- A superuser may do everything in every team, member or not. Staff alone grants nothing here: the staff
  flag only opens the Django admin, whose querysets are filtered by these same rules.
- An inactive user may do nothing.

Querysets are filtered with a subquery of the user's memberships (``restrict``), so the number of
statements does not grow with the number of teams.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from django.db import models

from accounts.models import DEFAULT_TEAM_SLUG, Membership, Role, Team, default_team_id

__all__ = [
    "Action",
    "Role",
    "allows",
    "default_team",
    "default_team_id",
    "lower_role",
    "rank",
    "restrict",
    "restrict_to_token",
    "role_in",
    "team_ids",
    "teams_of",
    "token_allows",
    "token_role",
]

Q = TypeVar("Q", bound=models.QuerySet[Any])

RANKS: dict[str, int] = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


class Action(StrEnum):
    READ = "read"
    OPERATE = "operate"
    MANAGE = "manage"


REQUIRED_ROLE: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.OPERATE: Role.OPERATOR,
    Action.MANAGE: Role.ADMIN,
}


def rank(role: str | None) -> int:
    """0 for no role; an unknown role string ranks as no role, never as a grant."""
    return RANKS.get(role or "", 0)


def lower_role(a: str | None, b: str | None) -> str | None:
    """The lesser of two roles (a token's role is capped by its owner's)."""
    if rank(a) == 0 or rank(b) == 0:
        return None
    return a if rank(a) <= rank(b) else b


def _is_active_user(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def role_in(user: Any, team: Team | int | None) -> str | None:
    """``user``'s role in ``team`` (admin for a superuser), or None."""
    if team is None or not _is_active_user(user):
        return None
    if user.is_superuser:
        return Role.ADMIN
    team_id = team.pk if isinstance(team, Team) else team
    return Membership.objects.filter(user=user, team_id=team_id).values_list("role", flat=True).first()


def allows(user: Any, team: Team | int | None, action: Action | str) -> bool:
    """Whether ``user`` may do ``action`` in ``team``."""
    needed = REQUIRED_ROLE[Action(action)]
    return rank(role_in(user, team)) >= rank(needed)


def _roles_at_least(action: Action | str) -> list[str]:
    needed = rank(REQUIRED_ROLE[Action(action)])
    return [role for role, value in RANKS.items() if value >= needed]


def team_ids(user: Any, action: Action | str = Action.READ) -> models.QuerySet[Any] | None:
    """A subquery of the ids of the teams where ``user`` may do ``action``; None means every team."""
    if _is_active_user(user) and user.is_superuser:
        return None
    if not _is_active_user(user):
        return Membership.objects.none().values("team_id")
    return Membership.objects.filter(user=user, role__in=_roles_at_least(action)).values("team_id")


def restrict(queryset: Q, user: Any, action: Action | str = Action.READ, field: str = "team") -> Q:
    """``queryset`` cut to the rows whose ``field`` (a team foreign key path) ``user`` may ``action``."""
    ids = team_ids(user, action)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{field}__in": ids})


def teams_of(user: Any, action: Action | str = Action.READ) -> models.QuerySet[Team]:
    """The teams where ``user`` may do ``action``, by name."""
    return restrict(Team.objects.all(), user, action, field="pk")


def default_team() -> Team:
    """The team that owns what is made without naming one; created on first use."""
    return Team.objects.get(pk=default_team_id())


DEFAULT_SLUG = DEFAULT_TEAM_SLUG


# --- API tokens ---------------------------------------------------------------------------------
# A token acts in its one team, with its own role capped by its owner's current role there: a token of a
# member removed since has no role (its requests are refused as unauthenticated), a demoted owner's token
# is demoted with them.


def token_role(token: Any) -> str | None:
    """What ``token`` may do in its team now: ``lower_role(token's role, owner's current role)``, or None."""
    return lower_role(token.role, role_in(token.user, token.team_id))


def token_allows(token: Any, role: str | None, team: Team | int | None, action: Action | str) -> bool:
    """Whether ``token``, with its effective ``role`` (``token_role``), may do ``action`` in ``team``."""
    team_id = team.pk if isinstance(team, Team) else team
    return team_id == token.team_id and rank(role) >= rank(REQUIRED_ROLE[Action(action)])


def restrict_to_token(queryset: Q, token: Any, role: str | None, action: Action | str, field: str = "team") -> Q:
    """``queryset`` cut to the rows of ``token``'s team, or to nothing when its ``role`` is short of ``action``."""
    if rank(role) < rank(REQUIRED_ROLE[Action(action)]):
        return queryset.none()
    return queryset.filter(**{field: token.team_id})
