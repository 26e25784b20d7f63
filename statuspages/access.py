"""Who may see a status page: its visibility, the unlock cookie of a password page, and the rate limits.

- public and published: anyone; nothing about the visitor is read (no session, so no cookie and no
  ``Vary: Cookie``).
- password: a visitor who gave the page's password holds a signed cookie scoped to the page's path (no
  session), valid ``STATUS_PAGE_UNLOCK_DAYS`` and only for the password it was given for: changing the
  password ends every such cookie. Tries are limited per client IP and page
  (``STATUS_PAGE_PASSWORD_RATE_LIMIT``); team members (READ) need no password.
- members: signed-in users who may READ in the page's team (accounts/teams.py); others are sent to log in,
  or get a 404 when signed in (the page's existence is not confirmed to outsiders).
- not published: only team members (READ) see it, as a preview; everyone else gets a 404.
"""

from __future__ import annotations

import enum
import hashlib

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from accounts.client_ip import rate_limit_key
from accounts.rate_limits import count
from accounts.teams import Action, allows
from statuspages.models import StatusPage, Visibility

UNLOCK_SALT = "statuspages.unlock"


class Access(enum.Enum):
    ALLOWED = "allowed"
    NEEDS_LOGIN = "needs_login"
    NEEDS_PASSWORD = "needs_password"  # noqa: S105 - a decision, not a password
    NOT_FOUND = "not_found"


def _is_member(request: HttpRequest, page: StatusPage) -> bool:
    return allows(request.user, page.team_id, Action.READ)


def decide(request: HttpRequest, page: StatusPage) -> Access:
    if page.published and page.visibility == Visibility.PUBLIC:
        return Access.ALLOWED  # first, so a public page never reads the session
    if not page.published:
        return Access.ALLOWED if _is_member(request, page) else Access.NOT_FOUND
    if page.visibility == Visibility.PASSWORD:
        if is_unlocked(request, page) or _is_member(request, page):
            return Access.ALLOWED
        return Access.NEEDS_PASSWORD
    if _is_member(request, page):
        return Access.ALLOWED
    return Access.NOT_FOUND if request.user.is_authenticated else Access.NEEDS_LOGIN


# --- the unlock cookie ---------------------------------------------------------------------------


def cookie_name(page: StatusPage) -> str:
    return f"statuspage_{page.pk}"


def _fingerprint(page: StatusPage) -> str:
    # Of the hash, not the password: a new password (or none) makes old cookies worthless.
    return hashlib.sha256(page.password_hash.encode()).hexdigest()[:24]


def unlock_seconds() -> int:
    return int(settings.STATUS_PAGE_UNLOCK_DAYS) * 86400


def is_unlocked(request: HttpRequest, page: StatusPage) -> bool:
    raw = request.COOKIES.get(cookie_name(page))
    if not raw or not page.password_hash:
        return False
    try:
        value = signing.loads(raw, salt=UNLOCK_SALT, max_age=unlock_seconds())
    except signing.BadSignature:
        return False
    return isinstance(value, dict) and value.get("p") == page.pk and value.get("h") == _fingerprint(page)


def set_unlocked(response: HttpResponse, request: HttpRequest, page: StatusPage, path: str) -> None:
    response.set_cookie(
        cookie_name(page),
        signing.dumps({"p": page.pk, "h": _fingerprint(page)}, salt=UNLOCK_SALT),
        max_age=unlock_seconds(),
        path=path,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


# --- rate limits ---------------------------------------------------------------------------------


def over_public_limit(request: HttpRequest) -> int | None:
    """Seconds to wait when this client IP is over ``STATUS_PAGE_RATE_LIMIT_IP``, else None (counted)."""
    wait, _usage = count(request, "statuspages.public", rate_limit_key(request), settings.STATUS_PAGE_RATE_LIMIT_IP)
    return wait


def over_password_limit(request: HttpRequest, page: StatusPage) -> int | None:
    """Seconds to wait when this client IP has tried this page's password too often, else None (counted)."""
    key = f"{rate_limit_key(request)}:{page.pk}"
    wait, _usage = count(request, "statuspages.password", key, settings.STATUS_PAGE_PASSWORD_RATE_LIMIT)
    return wait
