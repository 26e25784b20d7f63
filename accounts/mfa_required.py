"""REQUIRE_MFA_FOR_STAFF: a staff user without a second factor is sent to enrol before the admin or any write.

A write is any unsafe method (POST, PUT, PATCH, DELETE) outside the account pages themselves (enrolment,
logout and password pages must keep working). Reads of the dashboards stay open, so a new staff member
sees the banner-free product and is stopped only where staff rights begin to matter. An API write (a session's:
a token's request has no session user) is refused in the API's error shape, code ``mfa_required``.
"""

from __future__ import annotations

from collections.abc import Callable

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse

# allauth's pages (login, logout, password, MFA enrolment) live under /accounts/; the token page does too
# but creates credentials, so it is a write view like any other.
ACCOUNT_PAGES = ("/accounts/", "/static/")
WRITE_PAGES_UNDER_ACCOUNTS = ("/accounts/tokens/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ENROL_MESSAGE = "Staff accounts need a second factor: set up an authenticator app or a passkey to continue."


def has_second_factor(user: object) -> bool:
    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()


class RequireStaffMfaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.must_enrol(request):
            if request.method in SAFE_METHODS:
                messages.warning(request, ENROL_MESSAGE)
                return HttpResponseRedirect(reverse("mfa_index"))
            refused = HttpResponse(ENROL_MESSAGE + "\n", status=403, content_type="text/plain; charset=utf-8")
            # Under /api/ the API's middleware (above this one) answers in its JSON error shape; without these it
            # could only say the generic "forbidden", and a client would not learn that a second factor is missing.
            refused.api_error = {  # type: ignore[attr-defined]
                "code": "mfa_required",
                "message": ENROL_MESSAGE,
                "details": {"enrol_url": reverse("mfa_index")},
            }
            return refused
        return self.get_response(request)

    @staticmethod
    def must_enrol(request: HttpRequest) -> bool:
        if not settings.REQUIRE_MFA_FOR_STAFF:
            return False
        # The path first, the user last: reading the user loads the session, and a page that needs no
        # session (a public status page) must not get one read (nor "Vary: Cookie") on its account.
        path = request.path
        if path.startswith(ACCOUNT_PAGES) and not path.startswith(WRITE_PAGES_UNDER_ACCOUNTS):
            return False
        if not path.startswith("/admin/") and request.method in SAFE_METHODS:
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return False
        return not has_second_factor(user)
