"""Who may call an operation, declared on the route (``auth=READ``, ``auth=OPERATE`` or ``auth=MANAGE``), and
the steps that decide it, in this order:

1. the client IP's rate limit, counted before anything else so that guessing tokens is limited too;
2. the credentials (``api.auth``): a Bearer token, else a browser session; 401 when neither holds;
3. the caller's own rate limit (per token, or per signed-in user), reported in ``X-RateLimit-*``;
4. the CSRF check for a session's unsafe request, exactly as a form post would get it;
5. the role the route asks for, when the credential alone decides it: a token whose (effective) role is below
   it gets 403. Which objects a caller reaches is then the view's filter (``Principal.restrict``): another
   team's object is a 404 like a missing one, a visible object the caller may not change a 403.

``admit`` runs them (``api.conventions`` calls it before ninja parses anything). The two auth classes are
what ninja and the OpenAPI document know of it: each names a security scheme, and answers ninja's own
authentication step with the principal ``admit`` found for its kind of credential.
"""

from __future__ import annotations

import enum
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from accounts.client_ip import rate_limit_key
from accounts.teams import REQUIRED_ROLE, Action
from api import throttle
from api.auth import Principal, authenticate, enforce_csrf
from api.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(enum.Enum):
    PUBLIC = "public"  # probes and the schema: no credentials, no rate limit
    READ = "read"  # viewer: any member's session, or a token, reading its teams' objects
    OPERATE = "operate"  # operator: silence, acknowledge, pause, resume, poll now
    MANAGE = "manage"  # admin: sources, rules, channels, tokens, members, the audit trail

    @property
    def action(self) -> Action:
        return Action(self.value)


def role_refused(action: Action) -> ApiError:
    """The one 403 for a role short of ``action``: by the route (a token's role) or by the object's team."""
    needed = REQUIRED_ROLE[action]
    return ApiError(
        403, "insufficient_role", f"This needs the {needed} role in the team.", {"required_role": str(needed)}
    )


def check_access(principal: Principal, access: Access) -> None:
    if access in (Access.OPERATE, Access.MANAGE) and not principal.may(access.action):
        raise role_refused(access.action)


def admit(request: HttpRequest, access: Access) -> Principal:
    """Steps 1 to 5 above; the principal, also kept as ``request.principal``, or the ApiError that refuses."""
    throttle.enforce(request, "api.ip", rate_limit_key(request), settings.API_RATE_LIMIT_IP)
    principal = authenticate(request)
    request.rate_limit_usage = throttle.enforce(  # type: ignore[attr-defined]
        request, "api.token", principal.rate_key, settings.API_RATE_LIMIT_TOKEN
    )
    if principal.token is None and request.method not in SAFE_METHODS:
        enforce_csrf(request)
    check_access(principal, access)
    request.principal = principal  # type: ignore[attr-defined]
    return principal


def principal_of(request: HttpRequest) -> Principal:
    principal: Principal = request.principal  # type: ignore[attr-defined]
    return principal


def access_of(auth_callbacks: Any) -> Access:
    """What an operation's ``auth=`` asks for: PUBLIC without auth, else the access its auth objects carry."""
    levels = {callback.access for callback in auth_callbacks or () if isinstance(callback, BearerToken | SessionCookie)}
    if len(levels) > 1:
        raise ValueError(f"an operation's auth objects ask for different access: {levels}")
    return levels.pop() if levels else Access.PUBLIC


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>``: an API token from /accounts/tokens/ (``dit_...``)."""

    openapi_description = "An API token (dit_...), created on /accounts/tokens/."

    def __init__(self, access: Access) -> None:
        self.access = access
        super().__init__()

    def __call__(self, request: HttpRequest) -> Principal | None:
        principal: Principal | None = getattr(request, "principal", None)
        return principal if principal is not None and principal.token is not None else None

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return self(request)


class SessionCookie(APIKeyCookie):
    """The dashboard's login session; its unsafe requests need the CSRF token (``X-CSRFToken``)."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = "The browser session of a signed-in user; writes also need the X-CSRFToken header."

    def __init__(self, access: Access) -> None:
        self.access = access
        # Sessions need the CSRF token (which also puts it on the docs page, for Swagger UI's requests); the
        # check itself is admit()'s: this __call__ never reaches ninja's own check in _get_key.
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Principal | None:
        principal: Principal | None = getattr(request, "principal", None)
        return principal if principal is not None and principal.token is None else None

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        return self(request)


READ = [BearerToken(Access.READ), SessionCookie(Access.READ)]
OPERATE = [BearerToken(Access.OPERATE), SessionCookie(Access.OPERATE)]
MANAGE = [BearerToken(Access.MANAGE), SessionCookie(Access.MANAGE)]
