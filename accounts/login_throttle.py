"""Rate limits on the login forms (the dashboard's and the admin's), per client IP and per username.

The login views belong to other apps, so the limit sits in a middleware keyed on the POST to their
paths (LOGIN_RATE_LIMIT_PATHS): it holds whatever view answers there. Every attempt counts against the
client IP; only failed ones count against the username, so a user who signs in often (or a test suite)
is never locked out, while guessing one account's password from many addresses still is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django_ratelimit.core import get_usage

from accounts import rate_limits
from accounts.client_ip import client_ip

security_logger = logging.getLogger("django.security.login")

# A login view answers a successful sign-in with a redirect and a failed one by showing the form again.
SUCCESS_STATUSES = frozenset({301, 302, 303})


def wait_if_spent(request: HttpRequest, group: str, value: str, rate: str) -> int | None:
    """Seconds until ``value`` may try again when its budget in ``group`` is used up, else None (counts nothing)."""
    usage = get_usage(request, group=group, key=lambda _group, _request: value, rate=rate, increment=False)
    if usage is None or usage["count"] < usage["limit"]:
        return None
    return rate_limits.retry_after_seconds(usage["time_left"])


class LoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method != "POST" or request.path not in settings.LOGIN_RATE_LIMIT_PATHS:
            return self.get_response(request)
        ip = client_ip(request)
        username = str(request.POST.get("username", "")).strip().lower()[:150]
        waits = [wait_if_spent(request, "login.ip", ip, settings.LOGIN_RATE_LIMIT_IP)]
        if username:
            waits.append(wait_if_spent(request, "login.username", username, settings.LOGIN_RATE_LIMIT_USERNAME))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            security_logger.warning("login attempts throttled for %s on %s", ip, request.path)
            return self._too_many(wait)
        response = self.get_response(request)
        rate_limits.hit(request, "login.ip", ip, settings.LOGIN_RATE_LIMIT_IP)
        if username and response.status_code not in SUCCESS_STATUSES:
            rate_limits.hit(request, "login.username", username, settings.LOGIN_RATE_LIMIT_USERNAME)
        return response

    @staticmethod
    def _too_many(wait: int) -> HttpResponse:
        response = HttpResponse(
            f"Too many login attempts. Try again in {wait} seconds.\n",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(wait)
        return response
