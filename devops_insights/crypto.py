"""Secrets at rest: Fernet encryption of credential fields with the keys of ``FIELD_ENCRYPTION_KEY``.

Several keys, for rotation: the first encrypts, every one decrypts (``MultiFernet``). To rotate,
put a new key first, keep the old ones after it, restart, run ``manage.py reencrypt_secrets``
(every stored secret is re-encrypted with the new key), then drop the old keys.

Project-wide rather than in one app: the key is one setting of the deployment, and any app that
stores a credential (source credentials, Apprise notification URLs) uses the same ring.
A plaintext never reaches a log line or an exception message here.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class SecretUnavailable(Exception):
    """A secret cannot be encrypted or decrypted: no key configured, or none of the keys fits."""


@cache
def _ring(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def keys_configured() -> bool:
    return bool(settings.FIELD_ENCRYPTION_KEYS)


def ring() -> MultiFernet:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise SecretUnavailable("no FIELD_ENCRYPTION_KEY is configured, so credentials cannot be stored or used")
    return _ring(keys)


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    return ring().encrypt(plaintext.encode("utf-8")).decode("ascii")


@sensitive_variables("plaintext")
def decrypt(token: str) -> str:
    try:
        plaintext = ring().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        raise SecretUnavailable(
            "a stored credential cannot be decrypted with any FIELD_ENCRYPTION_KEY (was its key removed?)"
        ) from None
    return plaintext.decode("utf-8")


def rotate(token: str) -> str:
    """The same secret encrypted with the first key (unchanged if it already is)."""
    try:
        return ring().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError):
        raise SecretUnavailable("a stored credential cannot be decrypted with any FIELD_ENCRYPTION_KEY") from None
