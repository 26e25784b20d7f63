"""Who may read a status page's feeds, Statuspage v2 JSON and badges, and what every answer carries.

The rule is the page's own (statuspages/access.py: ``decide``, its rate limits and its unlock cookie);
this module only answers it the way a machine client needs:

1. the per-IP limit of the public pages (``access.over_public_limit``, ``STATUS_PAGE_RATE_LIMIT_IP``);
2. the page by slug (statuspages/lookup.py, cached), or the page of the custom host the request came to;
3. ``access.decide``: allowed goes on (public; team members, for any page and for an unpublished page's
   preview; a browser holding the password page's unlock cookie); not found is a 404; "needs login" a 401;
   "needs password" accepts the page password as HTTP Basic credentials (any user name: feed readers and
   widgets speak Basic, not forms), else a 401 with ``WWW-Authenticate``.

Password tries share the page form's budget (``STATUS_PAGE_PASSWORD_RATE_LIMIT`` per client IP and
page, the same counter): a client over it is refused with 429 before its password is checked, and only a
wrong password is counted, so a widget polling with the right password is never locked out by itself.

Badges addressed by a component's badge key skip step 3: the key is the capability.

Answers never start a session nor issue a CSRF token (nothing here writes ``request.session`` or calls
``get_token``); for a public page ``decide`` reads nothing of the visitor. Refusals use the one error
shape ``{"error": {code, message, details}}`` (the API's, api/errors.py; built here because statuspages
sits below api).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django_ratelimit.core import get_usage

from accounts.client_ip import rate_limit_key
from accounts.rate_limits import retry_after_seconds
from statuspages import access, lookup
from statuspages.access import Access
from statuspages.models import StatusPage

REALM = 'Basic realm="status page", charset="UTF-8"'
# The page form's password counter (statuspages/access.py ``over_password_limit``): one budget for both.
PASSWORD_GROUP = "statuspages.password"  # noqa: S105 - a rate-limit group name


class Refusal(Exception):
    """Raised below a view; answered by ``response`` in the error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        body = {"error": {"code": self.code, "message": self.message, "details": {}}}
        response = JsonResponse(body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        # A refusal is about this caller: no cache may hand it to another.
        patch_cache_control(response, private=True, no_store=True)
        return response


def too_many(wait: int, message: str = "Too many requests") -> Refusal:
    return Refusal(429, "rate_limited", f"{message}: retry in {wait} s.", {"Retry-After": str(wait)})


def throttle(request: HttpRequest) -> None:
    wait = access.over_public_limit(request)
    if wait is not None:
        raise too_many(wait)


def find_page(request: HttpRequest, slug: str | None) -> StatusPage:
    """The page named by ``slug``, or, without one, the page of the custom host the request came to."""
    page = getattr(request, "status_page_host", None) if slug is None else lookup.by_slug(slug)
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


def _password_wait(request: HttpRequest, page: StatusPage) -> int | None:
    """Seconds to wait when this client is over the page's password budget, without counting a try."""
    key = f"{rate_limit_key(request)}:{page.pk}"  # the key access.over_password_limit counts under
    usage = get_usage(
        request,
        group=PASSWORD_GROUP,
        key=lambda _group, _request: key,
        rate=settings.STATUS_PAGE_PASSWORD_RATE_LIMIT,
        increment=False,
    )
    if usage is None or int(usage["count"]) < int(usage["limit"]):
        return None
    return retry_after_seconds(usage["time_left"])


def check_page_password(request: HttpRequest, page: StatusPage) -> None:
    password = basic_password(request)
    if password is None:
        raise Refusal(401, "unauthorized", "This status page needs its password.", {"WWW-Authenticate": REALM})
    wait = _password_wait(request, page)
    if wait is not None:
        raise too_many(wait, "Too many wrong passwords")
    if not page.check_password(password[:200]):
        access.over_password_limit(request, page)  # counts this wrong try
        raise Refusal(401, "unauthorized", "Wrong password for this status page.", {"WWW-Authenticate": REALM})


def admit(request: HttpRequest, page: StatusPage) -> None:
    """Raise a Refusal unless the request may read ``page`` (statuspages/access.py decides)."""
    decision = access.decide(request, page)
    if decision is Access.ALLOWED:
        return
    if decision is Access.NOT_FOUND:
        raise Refusal(404, "not_found", "No such status page.")
    if decision is Access.NEEDS_LOGIN:
        raise Refusal(401, "unauthorized", "Sign in as a member of the page's team.")
    check_page_password(request, page)


def open_page(request: HttpRequest, slug: str | None) -> StatusPage:
    """Rate limit, find and admit: the page this request may read."""
    throttle(request)
    page = find_page(request, slug)
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
            not_modified["ETag"] = tag
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
