"""``api_view``: method check, rate limits, authentication and access for one API endpoint."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from accounts.client_ip import client_ip
from api import throttle
from api.auth import Principal, authenticate, enforce_csrf
from api.errors import ApiError

View = Callable[..., HttpResponseBase]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(enum.Enum):
    PUBLIC = "public"  # probes and the schema: no credentials, no rate limit
    READ = "read"  # any signed-in user or token
    STAFF_WRITE = "staff_write"  # a staff user's session, or a staff user's write-scoped token


def check_access(principal: Principal, access: Access) -> None:
    if access is Access.STAFF_WRITE:
        if not principal.can_write:
            raise ApiError(
                403, "insufficient_scope", "This token is read-only; this operation needs a write-scoped token."
            )
        if not principal.is_staff:
            raise ApiError(403, "staff_required", "Only staff users may change sources.")


def api_view(**access_by_method: Access) -> Callable[[View], View]:
    """Declare an endpoint's methods and who may call each: ``@api_view(GET=Access.READ)``."""
    if "GET" in access_by_method:
        access_by_method.setdefault("HEAD", access_by_method["GET"])
    allowed = ", ".join(sorted(access_by_method))

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                response = _dispatch(request, view, args, kwargs)
            except ApiError as error:
                response = error.response()
            usage = getattr(request, "rate_limit_usage", None)
            if usage is not None:
                for name, value in usage.headers().items():
                    response.setdefault(name, value)
            patch_vary_headers(response, ("Authorization", "Cookie"))
            if not response.has_header("Cache-Control"):
                # Per caller, and always revalidated (the ETag makes that cheap).
                patch_cache_control(response, private=True, no_cache=True)
            return response

        def _dispatch(request: HttpRequest, view: View, args: Any, kwargs: Any) -> HttpResponseBase:
            method = request.method or "GET"
            access = access_by_method.get(method)
            if access is None:
                raise ApiError(
                    405,
                    message=f"{method} is not allowed here; allowed: {allowed}.",
                    details={"allowed": allowed.split(", ")},
                    headers={"Allow": allowed},
                )
            if access is not Access.PUBLIC:
                # Counted before authentication, so guessing tokens is limited too.
                throttle.enforce(request, "api.ip", client_ip(request), settings.API_RATE_LIMIT_IP)
                principal = authenticate(request)
                # The caller's own budget is what its X-RateLimit-* headers report.
                request.rate_limit_usage = throttle.enforce(  # type: ignore[attr-defined]
                    request, "api.token", principal.rate_key, settings.API_RATE_LIMIT_TOKEN
                )
                if principal.token is None and method not in SAFE_METHODS:
                    enforce_csrf(request)
                check_access(principal, access)
                request.principal = principal  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapper)

    return decorator
