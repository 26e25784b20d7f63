from __future__ import annotations

from django.apps import AppConfig


class PollersConfig(AppConfig):
    name = "pollers"
    verbose_name = "Sources and polling"

    def ready(self) -> None:
        # pollers may import observability (the ground floor); observability never imports pollers.
        from django.db.models.signals import post_delete

        from devops_insights.crypto import register_encrypted_fields
        from observability.exposition import register_shared_state
        from pollers.collectors import SourceStateCollector
        from pollers.models import ENCRYPTED_FIELDS, Source
        from pollers.receivers import on_source_deleted

        register_shared_state(SourceStateCollector())
        post_delete.connect(on_source_deleted, sender=Source, dispatch_uid="pollers.source_deleted")
        # Rotated by manage.py reencrypt_secrets, which knows every app's secrets from this registry.
        register_encrypted_fields(Source, *ENCRYPTED_FIELDS, name_field="slug")
