from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Operations"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from observability import receivers, tracing  # noqa: F401 - connects the signal receivers
        from observability.collectors import ReadCacheCollector

        # In every process (web and poller alike), since both read through the cache.
        if not getattr(REGISTRY, "_devops_insights_cache_collector", False):
            REGISTRY.register(ReadCacheCollector())
            REGISTRY._devops_insights_cache_collector = True  # type: ignore[attr-defined]
        tracing.configure_from_settings()
