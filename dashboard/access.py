"""Who may see and do what on the dashboard, through the one access rule (``accounts.teams``).

- Every page needs a login; JSON endpoints answer 401 instead of redirecting.
- Reading an object needs the viewer role in its team. Another team's object is a 404, exactly like a
  missing one, so a URL never tells a stranger that a slug exists.
- Changing needs the role the action asks for in the object's team (operator: pause, resume, poll now,
  silence, acknowledge; admin: sources, rules, channels): a member without it gets 403.
- Lists show the current team's objects (``accounts.current_team``); what the dashboard creates belongs
  to the current team, so creating needs the role there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from accounts.current_team import current_role, current_team
from accounts.models import Team
from accounts.teams import REQUIRED_ROLE, Action, allows, rank, restrict, role_in

View = Callable[..., HttpResponse]
M = TypeVar("M", bound=models.Model)
# The queryset's own class is kept, so its methods (SourceQuerySet's) stay callable on the answer.
QS = TypeVar("QS", bound="models.QuerySet[Any]")

REFUSALS: dict[Action, str] = {
    Action.READ: "you are not a member of this team",
    Action.OPERATE: "this needs the operator role in the team",
    Action.MANAGE: "this needs the admin role in the team",
}


def json_login_required(view: View) -> View:
    """For endpoints our scripts fetch: a redirect to the login page would be parsed as data."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"error": "authentication required"}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


def readable(request: HttpRequest, queryset: models.QuerySet[M], team_field: str = "team") -> models.QuerySet[M]:
    """``queryset`` cut to the teams the user may read (every team for a superuser)."""
    return restrict(queryset, request.user, Action.READ, field=team_field)


def in_current_team(request: HttpRequest, queryset: QS, team_field: str = "team") -> QS:
    """``queryset`` cut to the current team's rows (none when the user has no team)."""
    team = current_team(request)
    if team is None:
        return queryset.none()
    return queryset.filter(**{team_field: team})


def _team_id(obj: models.Model, team_field: str) -> int:
    *parents, last = team_field.split("__")
    node: Any = obj
    for name in parents:
        node = getattr(node, name)
    return int(getattr(node, f"{last}_id"))


def object_for(
    request: HttpRequest,
    queryset: models.QuerySet[M],
    action: Action = Action.READ,
    team_field: str = "team",
    **lookup: Any,
) -> M:
    """The object ``lookup`` finds among those the user may read (else 404), if ``action`` is allowed (else 403)."""
    found = readable(request, queryset, team_field).filter(**lookup).first()
    if found is None:
        raise Http404("not found")
    if action != Action.READ and not allows(request.user, _team_id(found, team_field), action):
        raise PermissionDenied(REFUSALS[action])
    return found


def team_for_new(request: HttpRequest, action: Action = Action.MANAGE) -> Team:
    """The current team, where what is being created will belong, if the user may ``action`` there (else 403)."""
    team = current_team(request)
    if team is None or not may(request, action):
        raise PermissionDenied(REFUSALS[action])
    return team


def may(request: HttpRequest, action: Action, team: Team | int | None = None) -> bool:
    """Whether the user may ``action`` in ``team`` (the current team when None)."""
    if team is None:
        return rank(current_role(request)) >= rank(REQUIRED_ROLE[action])
    return allows(request.user, team, action)


def role_required(action: Action) -> Callable[[View], View]:
    """Signed in (else the login page) and ``action`` allowed in the current team (else 403)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not may(request, action):
                raise PermissionDenied(REFUSALS[action])
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorate


def abilities(request: HttpRequest, team: Team | int | None = None) -> dict[str, bool]:
    """Template flags: may the user operate / manage in ``team`` (the current team when None); one role read."""
    role = current_role(request) if team is None else role_in(request.user, team)
    return {
        "can_operate": rank(role) >= rank(REQUIRED_ROLE[Action.OPERATE]),
        "can_manage": rank(role) >= rank(REQUIRED_ROLE[Action.MANAGE]),
    }
