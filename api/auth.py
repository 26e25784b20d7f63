"""Who is calling: a browser session or ``Authorization: Bearer <token>``; 401 when neither.

A principal answers the one access rule (``accounts.teams``) for its kind of credential: a session user sees
and changes what their memberships allow; a token only its own team, with its role capped by its owner's
current role (a token of a member removed since is refused here with 401, like a revoked one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from accounts import teams
from accounts.client_ip import client_ip
from accounts.models import ApiToken, Team
from accounts.teams import Action
from api.errors import ApiError

security_logger = logging.getLogger("django.security.api")

CHALLENGE = 'Bearer realm="devops-insights"'
Q = TypeVar("Q", bound=models.QuerySet[Any])


@dataclass(frozen=True)
class Principal:
    user: Any
    token: ApiToken | None  # None for a browser session
    role: str | None = None  # the token's effective role (``teams.token_role``); None for a session

    @property
    def rate_key(self) -> str:
        return f"token:{self.token.pk}" if self.token is not None else f"user:{self.user.pk}"

    def restrict(self, queryset: Q, action: Action | str = Action.READ, field: str = "team") -> Q:
        """``queryset`` cut to the rows (``field``: their team) this caller may ``action``."""
        if self.token is not None:
            return teams.restrict_to_token(queryset, self.token, self.role, action, field)
        return teams.restrict(queryset, self.user, action, field)

    def allows(self, team: Team | int | None, action: Action | str) -> bool:
        if self.token is not None:
            return teams.token_allows(self.token, self.role, team, action)
        return teams.allows(self.user, team, action)

    def teams(self, action: Action | str = Action.READ) -> models.QuerySet[Team]:
        """The teams where this caller may ``action``: a token's one team at most."""
        return self.restrict(Team.objects.all(), action, field="pk")

    def may(self, action: Action | str) -> bool:
        """Whether the caller's credential could ``action`` anywhere: a token's own role, any session user."""
        if self.token is None:
            return True
        return teams.rank(self.role) >= teams.rank(teams.REQUIRED_ROLE[Action(action)])


def unauthorized(code: str, message: str, error: str | None = None) -> ApiError:
    challenge = CHALLENGE if error is None else f'{CHALLENGE}, error="{error}"'
    return ApiError(401, code, message, headers={"WWW-Authenticate": challenge})


def authenticate(request: HttpRequest) -> Principal:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, raw = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise unauthorized(
                "invalid_authorization", "Send the token as 'Authorization: Bearer <token>'.", "invalid_request"
            )
        token = ApiToken.authenticate(raw.strip())
        if token is None:
            # Never the token itself: a typo of a real token is nearly the real token.
            security_logger.info("API request with an unknown, revoked or expired token from %s", client_ip(request))
            raise unauthorized("invalid_token", "The token is unknown, revoked or expired.", "invalid_token")
        role = teams.token_role(token)
        if role is None:
            # Its owner left the team (or lost every role there): the token stops working, as if revoked.
            security_logger.info("API request with token %s of a user no longer in its team", token.prefix)
            raise unauthorized("invalid_token", "The token is unknown, revoked or expired.", "invalid_token")
        return Principal(token.user, token, role)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Principal(user, None)
    raise unauthorized(
        "not_authenticated", "Authentication required: send a session cookie or 'Authorization: Bearer <token>'."
    )


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _no_response(request: HttpRequest) -> Any:
    return None


def enforce_csrf(request: HttpRequest) -> None:
    """Session-authenticated writes need the CSRF token, exactly as a form post would.

    API views are csrf-exempt so that token clients (which send no cookie) are not asked for one.
    """
    check = _CsrfCheck(_no_response)
    check.process_request(request)
    reason = check.process_view(request, _no_response, (), {})
    if reason:
        raise ApiError(403, "csrf_failed", f"CSRF check failed: {reason}")
