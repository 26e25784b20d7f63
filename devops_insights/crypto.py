"""Secrets at rest: Fernet encryption of credential fields with the keys of ``FIELD_ENCRYPTION_KEY``.

Several keys, for rotation: the first encrypts, every one decrypts (``MultiFernet``). To rotate,
put a new key first, keep the old ones after it, restart, run ``manage.py reencrypt_secrets``
(every stored secret is re-encrypted with the new key), then drop the old keys.

Project-wide rather than in one app: the key is one setting of the deployment, and any app that
stores a credential (source credentials, Apprise notification URLs) uses the same ring.
Each app registers the fields it encrypts (``register_encrypted_fields``, from its AppConfig.ready());
``reencrypt_registered`` (``manage.py reencrypt_secrets``) rotates them all.
A plaintext never reaches a log line or an exception message here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import router, transaction
from django.db.models import Model, Q
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


# --- the registry of encrypted fields: what ``manage.py reencrypt_secrets`` rotates ---------------------
# Each app registers its own models' encrypted fields from its AppConfig.ready(), so the command knows
# every secret stored by any app without importing one (pollers must not import alerts, and this
# ground-floor module imports none).


@dataclass(frozen=True)
class EncryptedFields:
    model: type[Model]
    fields: tuple[str, ...]
    name_field: str  # names a row in messages (a slug, a name): never a value


_registry: dict[str, EncryptedFields] = {}


def register_encrypted_fields(model: type[Model], *fields: str, name_field: str = "pk") -> None:
    """Declare ``fields`` of ``model`` as Fernet tokens of this ring (idempotent: ready() may run twice)."""
    if not fields:
        raise ValueError("register at least one field")
    _registry[model._meta.label] = EncryptedFields(model, tuple(fields), name_field)


def registered_encrypted_fields() -> list[EncryptedFields]:
    return [_registry[label] for label in sorted(_registry)]


@dataclass
class Reencrypted:
    rotated: int = 0
    unreadable: list[str] = field(default_factory=list)  # "<model label>:<row name>.<field>", never a value


def reencrypt_registered() -> Reencrypted:
    """Re-encrypt every registered field of every row with the first key (one transaction per row)."""
    report = Reencrypted()
    for entry in registered_encrypted_fields():
        manager = entry.model._default_manager
        holding = Q()
        for name in entry.fields:
            holding |= ~Q(**{name: ""})
        rows = manager.filter(holding).only("pk", entry.name_field, *entry.fields).order_by("pk")
        for row in rows.iterator():
            changes: dict[str, str] = {}
            for name in entry.fields:
                token = getattr(row, name)
                if not token:
                    continue
                try:
                    changes[name] = rotate(token)
                except SecretUnavailable:
                    report.unreadable.append(f"{entry.model._meta.label}:{getattr(row, entry.name_field)}.{name}")
            if changes:
                with transaction.atomic(using=router.db_for_write(entry.model)):
                    manager.filter(pk=row.pk).update(**changes)
                report.rotated += len(changes)
    return report
