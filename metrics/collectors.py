"""Prometheus collectors of the metrics area, read at scrape time (registered by metrics.apps).

- ``UpstreamMetricsCollector``: every source's latest extracted metrics, one gauge family per metric
  (``devops_insights_upstream_<metric>{source="..."}``), read with one ``latest_heads()`` call on every
  scrape: the metrics, times and sequences without the documents, which a scrape never shows. Shared
  state, so every web replica reports the same values (``GET /metrics`` only).
- ``ReadCacheCollector``: the read cache's own hit/miss counters, in every process that reads.

A failing read never fails the scrape: the collector reports ``..._scrape_ok 0`` and logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics.read_cache import counters
from metrics.stores import get_store
from observability.instruments import PREFIX

logger = logging.getLogger(__name__)

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    """A source's metric name made safe for Prometheus (letters, digits and underscores)."""
    cleaned = _INVALID.sub("_", name).strip("_") or "unnamed"
    return f"{PREFIX}_upstream_{cleaned.lower()}"


class UpstreamMetricsCollector(Collector):
    def describe(self) -> list[Metric]:
        # Returning nothing keeps registration from calling collect() (and the store) at import time.
        return []

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            f"{PREFIX}_upstream_scrape_ok", "1 when the metric store answered this scrape, 0 when it failed."
        )
        try:
            snapshots = get_store().latest_heads()
        except Exception:
            logger.exception("metrics scrape could not read the latest snapshots")
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok

        fetched = GaugeMetricFamily(
            f"{PREFIX}_upstream_fetched_timestamp_seconds",
            "When the current content of the source was first fetched.",
            labels=["source"],
        )
        seen = GaugeMetricFamily(
            f"{PREFIX}_upstream_last_seen_timestamp_seconds",
            "When the source was last fetched (changed or not).",
            labels=["source"],
        )
        sequence = GaugeMetricFamily(
            f"{PREFIX}_upstream_sequence", "Changes recorded for the source so far.", labels=["source"]
        )
        families: dict[str, GaugeMetricFamily] = {}
        emitted: set[tuple[str, str]] = set()
        for slug in sorted(snapshots):
            snapshot = snapshots[slug]
            fetched.add_metric([slug], snapshot.fetched_at.timestamp())
            seen.add_metric([slug], snapshot.last_seen_at.timestamp())
            sequence.add_metric([slug], snapshot.sequence)
            for name in sorted(snapshot.metrics):
                family_name = metric_name(name)
                if (family_name, slug) in emitted:
                    continue  # two names that clean up alike: keep the first rather than a duplicate sample
                emitted.add((family_name, slug))
                family = families.get(family_name)
                if family is None:
                    family = families[family_name] = GaugeMetricFamily(
                        family_name, f"Upstream metric {name!r} extracted from each source.", labels=["source"]
                    )
                family.add_metric([slug], float(snapshot.metrics[name]))
        yield fetched
        yield seen
        yield sequence
        yield from families.values()


class ReadCacheCollector(Collector):
    """The read cache's own hit/miss counters (metrics.read_cache.counters()), in this process."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            f"{PREFIX}_cache_requests",
            "Read cache lookups by operation (latest, latest_of: one per source asked, history, series) "
            "and result (hit, miss, hit_after_wait: served after waiting for another loader, bypass: cache off).",
            labels=["operation", "result"],
        )
        errors = CounterMetricFamily(f"{PREFIX}_cache_errors", "Cache operations that failed (Redis down).")
        for name, count in sorted(counters().items()):
            if name == "errors":
                errors.add_metric([], count)
                continue
            operation, _, result = name.partition(".")
            if result:
                requests.add_metric([operation, result], count)
        yield requests
        yield errors
