"""Who is calling: a browser session or ``Authorization: Bearer <token>``; 401 when neither."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from accounts.client_ip import client_ip
from accounts.models import ApiToken
from api.errors import ApiError

security_logger = logging.getLogger("django.security.api")

CHALLENGE = 'Bearer realm="devops-insights"'


@dataclass(frozen=True)
class Principal:
    user: Any
    token: ApiToken | None  # None for a browser session

    @property
    def rate_key(self) -> str:
        return f"token:{self.token.pk}" if self.token is not None else f"user:{self.user.pk}"

    @property
    def can_write(self) -> bool:
        # A signed-in browser acts with the user's own rights; a token only with the scope it was given.
        return self.token.can_write if self.token is not None else True

    @property
    def is_staff(self) -> bool:
        return bool(self.user.is_staff)


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
        return Principal(token.user, token)
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
