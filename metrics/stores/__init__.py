"""Choose the configured metric store. Import ``get_store`` and code against ``MetricStore``."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from metrics.stores.base import MetricStore


@cache
def get_store() -> MetricStore:
    """The process-wide store behind the read cache (connection pools are shared, so build it once).

    Cache outermost, then the instrumentation (observability/), so the store latency metrics and
    spans measure the database, and cache hits cost nothing extra.
    """
    from metrics.read_cache import CachedMetricStore
    from metrics.stores.instrumented import InstrumentedStore

    return CachedMetricStore(InstrumentedStore(get_backend_store()))


def get_backend_store() -> MetricStore:
    """The configured store without the cache: for commands and benchmarks that must see the database."""
    if settings.METRIC_STORE == "mongodb":
        from metrics.stores.mongo import MongoMetricStore

        return MongoMetricStore.from_settings()
    from metrics.stores.sql import SqlMetricStore

    return SqlMetricStore()
