"""Helpers for the accounts tests: logging in through the real allauth forms, TOTP codes computed here."""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from tests.factories import PASSWORD

LOGIN = "/accounts/login/"


def post_login(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(LOGIN, {"login": username, "password": password}, **extra)


def totp_code(secret: str, offset: int = 0) -> str:
    """The code an authenticator app shows now (``offset`` periods later)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def enrol_totp(user: Any) -> tuple[str, list[str]]:
    """Give ``user`` a TOTP authenticator and recovery codes; (secret, codes)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    return secret, codes
