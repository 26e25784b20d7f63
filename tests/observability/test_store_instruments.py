"""What /metrics shows of the metric store: call latency by operation, errors, spans, and the
upstream metrics of every source read from the store at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from metrics.defaults import default_metric_paths
from metrics.stores.base import MetricStore, SourceSpec, StoreError
from observability import tracing
from tests import services
from tests.observability.support import scrape, value

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def store(db: None) -> Iterator[MetricStore]:
    from metrics.stores import get_store

    get_store.cache_clear()
    yield get_store()
    get_store.cache_clear()


def status_payload(cpu: float, redis_up: bool) -> dict[str, Any]:
    return {
        "status": "ok",
        "results": {
            "services": {"redis": redis_up, "database": True},
            "stats": {"online": 57, "server": {"cpu_load": cpu, "active_connections": 9876}},
        },
    }


def test_it_exports_every_sources_latest_upstream_metrics(client: Client, store: MetricStore) -> None:
    paths = default_metric_paths()
    store.record(SourceSpec("us-east", metric_paths=paths), status_payload(41.5, True), NOW - timedelta(minutes=1))
    store.record(SourceSpec("eu-west", metric_paths=paths), status_payload(12.0, False), NOW)
    parsed = scrape(client)
    assert value(parsed, "devops_insights_upstream_scrape_ok") == 1
    assert value(parsed, "devops_insights_upstream_cpu_load", source="us-east") == 41.5
    assert value(parsed, "devops_insights_upstream_cpu_load", source="eu-west") == 12.0
    assert value(parsed, "devops_insights_upstream_service_redis_up", source="eu-west") == 0
    assert value(parsed, "devops_insights_upstream_online", source="us-east") == 57
    assert value(parsed, "devops_insights_upstream_fetched_timestamp_seconds", source="eu-west") == NOW.timestamp()
    # A new poll moves the gauge at the next scrape.
    store.record(SourceSpec("us-east", metric_paths=paths), status_payload(88.0, True), NOW)
    assert value(scrape(client), "devops_insights_upstream_cpu_load", source="us-east") == 88.0


def test_it_cleans_metric_names_for_prometheus(client: Client, store: MetricStore) -> None:
    store.record(SourceSpec("s1", metric_paths={"p95 latency (ms)": "a", "Err.Rate": "b"}), {"a": 1, "b": 2}, NOW)
    parsed = scrape(client)
    assert value(parsed, "devops_insights_upstream_p95_latency__ms", source="s1") == 1
    assert value(parsed, "devops_insights_upstream_err_rate", source="s1") == 2


def test_it_still_answers_when_the_store_is_down(client: Client, db: None, settings: Any) -> None:
    from metrics.stores import get_store

    settings.METRIC_STORE = "mongodb"
    settings.MONGODB_URL = f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true"
    settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS = 200
    get_store.cache_clear()
    try:
        parsed = scrape(client)
        # The failed read is counted as it happens, so the next scrape shows it.
        again = scrape(client)
    finally:
        get_store.cache_clear()
    assert value(parsed, "devops_insights_upstream_scrape_ok") == 0
    assert value(parsed, "devops_insights_source_state_scrape_ok") == 1
    assert value(again, "devops_insights_store_errors_total", backend="mongodb", operation="latest_heads") >= 1


def test_it_times_store_calls_by_operation(client: Client, store: MetricStore) -> None:
    before = scrape(client)
    spec = SourceSpec("us-east", metric_paths={"cpu": "cpu"})
    store.record(spec, {"cpu": 1}, NOW)
    store.record(spec, {"cpu": 2}, NOW + timedelta(seconds=1))
    store.series("us-east", "cpu", NOW - timedelta(hours=1), NOW + timedelta(hours=1), timedelta(minutes=5))
    after = scrape(client)

    def calls(parsed: Any, operation: str) -> float:
        return value(parsed, "devops_insights_store_operation_seconds_count", backend="sql", operation=operation)

    assert calls(after, "record") - calls(before, "record") == 2
    assert calls(after, "series") - calls(before, "series") == 1


def test_it_traces_store_calls_under_the_callers_span(store: MetricStore) -> None:
    exporter = InMemorySpanExporter()
    tracing.configure(exporter, batch=False)
    try:
        with tracing.span("poll", source="us-east"):
            store.record(SourceSpec("us-east"), {"a": 1}, NOW)
        with pytest.raises(ValueError, match="timezone-aware"):
            store.record(SourceSpec("us-east"), {"a": 2}, NOW.replace(tzinfo=None))
    finally:
        tracing.shutdown()
    recorded, poll, failed = exporter.get_finished_spans()
    assert (recorded.name, poll.name, failed.name) == ("store.record", "poll", "store.record")
    assert recorded.parent is not None
    assert recorded.parent.span_id == poll.context.span_id
    assert recorded.attributes == {"backend": "sql", "source": "us-east"}
    assert failed.status.status_code.name == "ERROR"


def test_it_passes_the_retention_extensions_through(db: None) -> None:
    from metrics.stores.instrumented import InstrumentedStore
    from metrics.stores.sql import SqlMetricStore

    instrumented = InstrumentedStore(SqlMetricStore())
    assert instrumented.latest_rollup_start("nothing", "1m") is None  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        instrumented.no_such_method  # type: ignore[attr-defined]  # noqa: B018


def test_it_counts_read_cache_hits_and_misses(client: Client, store: MetricStore, redis_settings: Any) -> None:
    from metrics.stores import get_store

    get_store.cache_clear()
    cached = get_store()
    cached.record(SourceSpec("us-east"), {"a": 1}, NOW)
    before = scrape(client)
    cached.history("us-east")
    cached.history("us-east")
    after = scrape(client)

    def lookups(parsed: Any, result: str) -> float:
        return value(parsed, "devops_insights_cache_requests_total", operation="history", result=result)

    assert lookups(after, "miss") - lookups(before, "miss") == 1
    assert lookups(after, "hit") - lookups(before, "hit") == 1


def test_it_counts_a_store_error(client: Client, db: None, settings: Any) -> None:
    from metrics.stores import get_store

    settings.METRIC_STORE = "mongodb"
    settings.MONGODB_URL = f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true"
    settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS = 200
    settings.MONGODB_ENSURE_INDEXES = False
    get_store.cache_clear()
    try:
        with pytest.raises(StoreError):
            get_store().record(SourceSpec("x"), {"a": 1}, NOW)
        parsed = scrape(client)
    finally:
        get_store.cache_clear()
    assert value(parsed, "devops_insights_store_errors_total", backend="mongodb", operation="record") >= 1
