from __future__ import annotations

from django.apps import AppConfig


class BoardsConfig(AppConfig):
    """Custom dashboards (boards of panels), region comparison and annotations (deploy and change markers)."""

    name = "boards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from boards import receivers
        from pollers.signals import batch_flushed, change_stored

        change_stored.connect(receivers.on_change_stored, dispatch_uid="boards.change_stored")
        batch_flushed.connect(receivers.on_batch_flushed, dispatch_uid="boards.batch_flushed")
