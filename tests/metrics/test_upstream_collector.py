"""The Prometheus collector of every source's latest metrics (metrics.collectors), on each real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metrics import collectors
from metrics.collectors import UpstreamMetricsCollector
from metrics.stores.base import MetricStore, SourceSpec

T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
DOCUMENT_READS = ("latest", "latest_all", "latest_of")


def samples(store: MetricStore) -> dict[tuple[str, str], float]:
    """(family, source) -> value of one collect(), as a scrape of GET /metrics reads it."""
    found = {}
    for family in UpstreamMetricsCollector().collect():
        for sample in family.samples:
            found[(sample.name, sample.labels.get("source", ""))] = sample.value
    return found


def test_it_scrapes_every_sources_metrics_without_reading_their_documents(
    store: MetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each scrape read every source's latest document (latest_all), payloads a scrape never shows."""
    cpu = SourceSpec("us-east", metric_paths={"cpu": "stats.cpu"})
    store.record(cpu, {"stats": {"cpu": 10.0}, "padding": "x" * 1000}, T0)
    store.record(cpu, {"stats": {"cpu": 42.5}, "padding": "x" * 1000}, T0 + timedelta(minutes=1))
    store.record(cpu, {"stats": {"cpu": 42.5}, "padding": "x" * 1000}, T0 + timedelta(minutes=2))
    store.record(SourceSpec("eu-west"), {"status": "ok"}, T0)
    read: list[str] = []
    for name in DOCUMENT_READS:
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            read.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    monkeypatch.setattr(collectors, "get_store", lambda: store)

    found = samples(store)
    assert read == []
    assert found[("devops_insights_upstream_scrape_ok", "")] == 1
    assert found[("devops_insights_upstream_cpu", "us-east")] == 42.5
    assert found[("devops_insights_upstream_sequence", "us-east")] == 2
    assert found[("devops_insights_upstream_sequence", "eu-west")] == 1
    minute = (T0 + timedelta(minutes=1)).timestamp()
    assert found[("devops_insights_upstream_fetched_timestamp_seconds", "us-east")] == minute
    assert found[("devops_insights_upstream_last_seen_timestamp_seconds", "us-east")] == minute + 60


def test_it_reports_a_failed_read_as_scrape_ok_0(store: MetricStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> None:
        raise RuntimeError("the store is down")

    monkeypatch.setattr(store, "latest_heads", down)
    monkeypatch.setattr(collectors, "get_store", lambda: store)
    assert samples(store) == {("devops_insights_upstream_scrape_ok", ""): 0}
