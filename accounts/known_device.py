"""The known-device cookie: a browser that has logged in to an account before is told apart from a stranger.

The lockout counts failed passwords per user name + client; with this cookie the client is the device,
not its IP address, so a stranger behind the same address (office NAT, VPN) cannot lock the owner out.
The value is signed (SECRET_KEY) and names the user, so it cannot be forged or reused for another account.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponseBase

COOKIE = "di_known_device"
SALT = "accounts.known_device"


def device_for(request: HttpRequest, user_pk: Any) -> str | None:
    """The device id of this browser when its cookie was issued for ``user_pk``, else None."""
    raw = request.COOKIES.get(COOKIE)
    if not raw or user_pk is None:
        return None
    max_age = settings.ACCOUNT_KNOWN_DEVICE_DAYS * 86400
    try:
        value = signing.loads(raw, salt=SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or str(value.get("u")) != str(user_pk):
        return None
    device = value.get("d")
    return device if isinstance(device, str) else None


def remember(request: HttpRequest, response: HttpResponseBase, user_pk: Any) -> None:
    """Mark this browser as a known device of ``user_pk`` (kept if it already is one)."""
    days = settings.ACCOUNT_KNOWN_DEVICE_DAYS
    if not days:
        return
    device = device_for(request, user_pk) or secrets.token_urlsafe(16)
    response.set_cookie(
        COOKIE,
        signing.dumps({"u": str(user_pk), "d": device}, salt=SALT),
        max_age=days * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
