"""Who may read a status page's feeds, Statuspage v2 JSON and badges, and what every answer carries.

One gate for every machine-readable endpoint under ``/status/<slug>/``:

1. a per-IP rate limit (``STATUS_FEEDS_RATE_LIMIT_IP``, counted by ``accounts.rate_limits``);
2. the page must exist and be published (404 otherwise, so drafts are not discoverable);
3. its visibility: *public* for anyone; *members* for signed-in users the team lets READ
   (``accounts.teams.allows``); *password* for a request carrying the page password as HTTP Basic
   credentials (any user name: feed readers and widgets speak Basic, not forms). Failed passwords are
   counted per client IP and page (``STATUS_PAGE_PASSWORD_RATE_LIMIT``); over it every try is
   refused with 429 before the password is checked, which is what makes guessing slow.

Badges addressed by a component's badge key skip step 3: the key is the capability.

Answers never start a session nor issue a CSRF token: nothing here writes to ``request.session`` or
calls ``get_token``; for public pages ``request.user`` is not even read (so the session is not loaded
and ``Vary: Cookie`` is not added). Refusals use the one error shape ``{"error": {code, message,
details}}`` (the API's, api/errors.py; built here because statuspages sits below api).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from accounts.client_ip import client_ip
from accounts.rate_limits import count
from accounts.teams import Action, allows
from statuspages.models import StatusPage, Visibility

RATE_GROUP = "statuspages.feeds"
PASSWORD_GROUP = "statuspages.password_tries"  # noqa: S105 (a rate-limit group name)
REALM = 'Basic realm="status page", charset="UTF-8"'


class Refusal(Exception):
    """Raised below a view; answered by ``refusal_response`` in the error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse(
            {"error": {"code": self.code, "message": self.message, "details": {}}}, status=self.status
        )
        for name, value in self.headers.items():
            response[name] = value
        # A refusal is about this caller: no cache may hand it to another.
        patch_cache_control(response, private=True, no_store=True)
        return response


def throttle(request: HttpRequest) -> None:
    wait, _usage = count(request, RATE_GROUP, client_ip(request), settings.STATUS_FEEDS_RATE_LIMIT_IP)
    if wait is not None:
        raise Refusal(429, "rate_limited", f"Too many requests: retry in {wait} s.", {"Retry-After": str(wait)})


def published_page(slug: str) -> StatusPage:
    page = StatusPage.objects.published().select_related("team").filter(slug=slug).first()
    if page is None:
        raise Refusal(404, "not_found", "No such status page.")
    return page


def basic_password(request: HttpRequest) -> str | None:
    """The password of an ``Authorization: Basic`` header, or None without a well-formed one."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded or len(encoded) > 1024:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, colon, password = decoded.partition(":")
    return password if colon else None


def check_page_password(request: HttpRequest, page: StatusPage) -> None:
    password = basic_password(request)
    if password is None:
        raise Refusal(401, "unauthorized", "This status page needs its password.", {"WWW-Authenticate": REALM})
    key = f"{client_ip(request)}|{page.pk}"
    # Peek first (no increment): someone over the limit is refused before any password is hashed.
    wait, _ = _peek(request, key)
    if wait is not None:
        raise Refusal(429, "rate_limited", f"Too many wrong passwords: retry in {wait} s.", {"Retry-After": str(wait)})
    if not page.check_password(password):
        count(request, PASSWORD_GROUP, key, settings.STATUS_PAGE_PASSWORD_RATE_LIMIT)
        raise Refusal(401, "unauthorized", "Wrong password for this status page.", {"WWW-Authenticate": REALM})


def _peek(request: HttpRequest, key: str) -> tuple[int | None, Any]:
    from django_ratelimit.core import get_usage

    from accounts.rate_limits import retry_after_seconds

    usage = get_usage(
        request,
        group=PASSWORD_GROUP,
        key=lambda _group, _request: key,
        rate=settings.STATUS_PAGE_PASSWORD_RATE_LIMIT,
        increment=False,
    )
    if usage is None or int(usage["count"]) < int(usage["limit"]):
        return None, usage
    return retry_after_seconds(usage["time_left"]), usage


def admit(request: HttpRequest, page: StatusPage) -> None:
    """Raise a Refusal unless the request may read ``page``."""
    if page.visibility == Visibility.PUBLIC:
        return
    if page.visibility == Visibility.MEMBERS:
        user = request.user
        if not user.is_authenticated:
            raise Refusal(401, "unauthorized", "Sign in as a member of the page's team.")
        if not allows(user, page.team, Action.READ):
            raise Refusal(403, "forbidden", "Only members of the page's team may read it.")
        return
    check_page_password(request, page)


def open_page(request: HttpRequest, slug: str) -> StatusPage:
    """Rate limit, find and admit: the page this request may read."""
    throttle(request)
    page = published_page(slug)
    admit(request, page)
    return page


def finish(request: HttpRequest, response: HttpResponse, *, shared: bool) -> HttpResponse:
    """ETag and 304, and how long who may keep it: ``shared`` answers (public pages, badge keys) may sit
    in any cache for STATUS_FEEDS_MAX_AGE; the others only in the caller's own, revalidated each time."""
    if response.status_code == 200 and not response.streaming:
        tag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
        response["ETag"] = tag
        if _matches(request, tag):
            not_modified = HttpResponseNotModified()
            for name in ("ETag", "Content-Type"):
                not_modified[name] = response[name]
            response = not_modified
    if shared:
        patch_cache_control(response, public=True, max_age=settings.STATUS_FEEDS_MAX_AGE)
    else:
        patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, ("Authorization", "Cookie"))
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _matches(request: HttpRequest, tag: str) -> bool:
    header = str(request.META.get("HTTP_IF_NONE_MATCH", ""))
    if not header:
        return False
    if header.strip() == "*":
        return True
    offered = {item.strip().removeprefix("W/") for item in header.split(",")}
    return tag in offered
