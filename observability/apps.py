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
        if sys.argv[1:2] == ["poll"]:
            self._poller_process()

    def _poller_process(self) -> None:
        """This process is `manage.py poll`: the poller's own duties, with no call from pollers/."""
        if settings.POLLER_METRICS_PORT:
            # Served from startup, so a liveness probe on the port passes before the first poll
            # (or with no source to poll at all).
            from observability.exposition import start_poller_metrics_server

            start_poller_metrics_server()
        if "--loop" in sys.argv:
            # The long-running loop takes on the retention step, triggered after polls (receivers).
            from observability import maintenance

            maintenance.enable_in_this_process()
