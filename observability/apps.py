from __future__ import annotations

import sys

from django.apps import AppConfig
from django.conf import settings


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
        if settings.POLLER_METRICS_PORT and sys.argv[1:2] == ["poll"]:
            # The poller process (`manage.py poll`) serves its metrics from startup, so a liveness
            # probe on the port passes even before the first poll (or with no source to poll).
            from observability.exposition import start_poller_metrics_server

            start_poller_metrics_server()
