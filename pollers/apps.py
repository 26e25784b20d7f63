from __future__ import annotations

from django.apps import AppConfig


class PollersConfig(AppConfig):
    name = "pollers"
    verbose_name = "Sources and polling"

    def ready(self) -> None:
        # pollers may import observability (the ground floor); observability never imports pollers.
        from observability.exposition import register_shared_state
        from pollers.collectors import SourceStateCollector

        register_shared_state(SourceStateCollector())
