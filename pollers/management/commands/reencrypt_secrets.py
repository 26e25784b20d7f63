"""Re-encrypt every stored credential with the first FIELD_ENCRYPTION_KEY (after a key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from devops_insights import crypto
from pollers.models import ENCRYPTED_FIELDS, Source


class Command(BaseCommand):
    help = (
        "Re-encrypt stored source credentials with the first key of FIELD_ENCRYPTION_KEY. Rotate a key by "
        "putting the new key first (old keys after it), restarting, running this, then removing the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not crypto.keys_configured():
            raise CommandError("FIELD_ENCRYPTION_KEY is not set: there is no key to encrypt with")
        rotated = 0
        unreadable: list[str] = []
        sources = Source.objects.exclude(auth_secret_encrypted="", tls_client_key_encrypted="")
        for source in sources.only("pk", "slug", *ENCRYPTED_FIELDS).iterator():
            changes: dict[str, str] = {}
            for name in ENCRYPTED_FIELDS:
                token = getattr(source, name)
                if not token:
                    continue
                try:
                    changes[name] = crypto.rotate(token)
                except crypto.SecretUnavailable:
                    unreadable.append(f"{source.slug}.{name}")
            if changes:
                with transaction.atomic():
                    Source.objects.filter(pk=source.pk).update(**changes)
                rotated += len(changes)
        self.stdout.write(f"re-encrypted {rotated} stored secrets with the first key")
        if unreadable:
            # Names only: which secrets need typing again, never their values.
            raise CommandError(
                f"{len(unreadable)} secrets cannot be decrypted with any configured key (re-enter them in the admin): "
                + ", ".join(unreadable[:50])
            )
