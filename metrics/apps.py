from __future__ import annotations

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        # metrics may import observability (the ground floor); observability never imports metrics.
        from metrics.collectors import ReadCacheCollector, UpstreamMetricsCollector
        from metrics.lifecycle import receivers  # noqa: F401 - the MongoDB TTL follows policy changes
        from observability.exposition import register_process_collector, register_shared_state

        # The cache counters in every process (web and poller alike read through the cache);
        # the latest upstream metrics only on the web's GET /metrics.
        register_process_collector(ReadCacheCollector())
        register_shared_state(UpstreamMetricsCollector())
