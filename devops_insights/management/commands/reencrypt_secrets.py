"""Re-encrypt every stored secret of every app with the first FIELD_ENCRYPTION_KEY (after a key rotation).

Which fields hold secrets is declared by each app (``devops_insights.crypto.register_encrypted_fields``):
source credentials (pollers) and Apprise notification URLs (alerts) today.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from devops_insights import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (source credentials, Apprise URLs...) with the first key of "
        "FIELD_ENCRYPTION_KEY. Rotate a key by putting the new key first (old keys after it), restarting, "
        "running this, then removing the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not crypto.keys_configured():
            raise CommandError("FIELD_ENCRYPTION_KEY is not set: there is no key to encrypt with")
        report = crypto.reencrypt_registered()
        self.stdout.write(f"re-encrypted {report.rotated} stored secrets with the first key")
        if report.unreadable:
            # Names only: which secrets need typing again, never their values.
            raise CommandError(
                f"{len(report.unreadable)} secrets cannot be decrypted with any configured key (enter them again): "
                + ", ".join(report.unreadable[:50])
            )
