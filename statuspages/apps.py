from __future__ import annotations

from django.apps import AppConfig


class StatusPagesConfig(AppConfig):
    """Public status pages, incidents, maintenance windows, feeds and badges: the face a team shows its users."""

    name = "statuspages"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from statuspages import receivers  # noqa: F401 - connects the signal receivers
