"""Who may see what: every dashboard page needs a login, JSON endpoints answer 401 instead of redirecting."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

View = Callable[..., HttpResponse]


def json_login_required(view: View) -> View:
    """For endpoints our scripts fetch: a redirect to the login page would be parsed as data."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"error": "authentication required"}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


def staff_required(view: View) -> View:
    """Logged in and staff; a logged-in user who is not staff gets 403, not a login loop."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def can_operate(user: Any) -> bool:
    """Whether ``user`` may change sources, rules, channels and silences from the dashboard.

    The one place that says so: staff, as the admin requires, until teams bring roles.
    """
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def operator_required(view: View) -> View:
    """Signed in (else the login page) and ``can_operate`` (else 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_operate(request.user):
            raise PermissionDenied("changing sources and alerting needs a staff account")
        return view(request, *args, **kwargs)

    return login_required(wrapper)
