"""Rate limits on the login forms (the dashboard's and the admin's), per client IP and per username.

The login views belong to other apps, so the limit sits in a middleware keyed on the POST to their
paths (LOGIN_RATE_LIMIT_PATHS): it holds whatever view answers there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from api import throttle
from api.client_ip import client_ip

security_logger = logging.getLogger("django.security.login")


class LoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "POST" and request.path in settings.LOGIN_RATE_LIMIT_PATHS:
            blocked = self._wait(request)
            if blocked is not None:
                return blocked
        return self.get_response(request)

    def _wait(self, request: HttpRequest) -> HttpResponse | None:
        ip = client_ip(request)
        waits = [throttle.hit(request, "login.ip", ip, settings.LOGIN_RATE_LIMIT_IP)]
        username = str(request.POST.get("username", "")).strip().lower()[:150]
        if username:
            # Per username too, so an attacker rotating addresses still cannot guess one account's password.
            waits.append(throttle.hit(request, "login.username", username, settings.LOGIN_RATE_LIMIT_USERNAME))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is None:
            return None
        security_logger.warning("login attempts throttled for %s on %s", ip, request.path)
        response = HttpResponse(
            f"Too many login attempts. Try again in {wait} seconds.\n",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(wait)
        return response
