"""Choose the configured metric store. Import ``get_store`` and code against ``MetricStore``."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from metrics.stores.base import MetricStore


@cache
def get_store() -> MetricStore:
    """The process-wide store (its connection pools are shared, so build it once)."""
    from metrics.stores.instrumented import InstrumentedStore

    return InstrumentedStore(_concrete_store())


def _concrete_store() -> MetricStore:
    if settings.METRIC_STORE == "mongodb":
        from metrics.stores.mongo import MongoMetricStore

        return MongoMetricStore.from_settings()
    from metrics.stores.sql import SqlMetricStore

    return SqlMetricStore()
