from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Operations"

    def ready(self) -> None:
        from observability import receivers, tracing  # noqa: F401 - connects the signal receivers

        tracing.configure_from_settings()
