"""Collectors that read shared state at scrape time, so every web replica reports the same values.

- ``UpstreamMetricsCollector``: every source's latest extracted metrics, one gauge family per metric
  (``devops_insights_upstream_<metric>{source="..."}``), read with one ``latest_all()`` call.
- ``SourceStateCollector``: poll health of every source (circuit, failures, last success, poll
  interval, alert state) and the number of live pollers, from the relational database.
- ``DeliveryQueueCollector``: alert notifications by delivery status and the age of the oldest one
  not delivered yet, from the relational database.

A failing read never fails the scrape: the collector reports ``..._scrape_ok 0`` and logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from observability.instruments import PREFIX

logger = logging.getLogger(__name__)

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    """A source's metric name made safe for Prometheus (letters, digits and underscores)."""
    cleaned = _INVALID.sub("_", name).strip("_") or "unnamed"
    return f"{PREFIX}_upstream_{cleaned.lower()}"


class UpstreamMetricsCollector:
    def describe(self) -> list[Metric]:
        # Returning nothing keeps registration from calling collect() (and the store) at import time.
        return []

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            f"{PREFIX}_upstream_scrape_ok", "1 when the metric store answered this scrape, 0 when it failed."
        )
        try:
            from metrics.stores import get_store

            snapshots = get_store().latest_all()
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


class SourceStateCollector:
    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from pollers.models import AlertState, PollerProcess, Source

        ok = GaugeMetricFamily(f"{PREFIX}_source_state_scrape_ok", "1 when the database answered this scrape.")
        try:
            sources = list(
                Source.objects.values(
                    "slug",
                    "enabled",
                    "circuit_state",
                    "consecutive_failures",
                    "last_success_at",
                    "alert_state",
                    "interval_seconds",
                )
            )
            pollers_alive = PollerProcess.objects.alive().filter(stopped_at__isnull=True).count()
        except Exception:
            logger.exception("metrics scrape could not read source state")
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok

        circuit = GaugeMetricFamily(
            f"{PREFIX}_source_circuit_state", "1 for the source's current circuit state.", labels=["source", "state"]
        )
        alert = GaugeMetricFamily(
            f"{PREFIX}_source_alert_state", "1 for the worst alert state firing.", labels=["source", "state"]
        )
        enabled = GaugeMetricFamily(f"{PREFIX}_source_enabled", "1 when the source is polled.", labels=["source"])
        failures = GaugeMetricFamily(
            f"{PREFIX}_source_consecutive_failures", "Failed polls since the last success.", labels=["source"]
        )
        success = GaugeMetricFamily(
            f"{PREFIX}_source_last_success_timestamp_seconds", "When a poll last succeeded.", labels=["source"]
        )
        # With the last success, lets an alert call a source stale after N of its own intervals.
        interval = GaugeMetricFamily(
            f"{PREFIX}_source_interval_seconds", "The source's configured poll interval.", labels=["source"]
        )
        for row in sources:
            slug = row["slug"]
            for state in Source.Circuit.values:
                circuit.add_metric([slug, state], 1 if row["circuit_state"] == state else 0)
            for state in AlertState.values:
                alert.add_metric([slug, state], 1 if row["alert_state"] == state else 0)
            enabled.add_metric([slug], 1 if row["enabled"] else 0)
            failures.add_metric([slug], row["consecutive_failures"])
            interval.add_metric([slug], row["interval_seconds"])
            if row["last_success_at"] is not None:
                success.add_metric([slug], row["last_success_at"].timestamp())
        yield from (circuit, alert, enabled, failures, success, interval)
        alive = GaugeMetricFamily(f"{PREFIX}_pollers_alive", "Poller processes with a recent heartbeat.")
        alive.add_metric([], pollers_alive)
        yield alive


class DeliveryQueueCollector:
    """Notifications waiting to be delivered (alerts.Delivery pending or sending): how many, and since when."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from django.db import transaction
        from django.db.models import Count, Min

        from alerts.models import Delivery

        ok = GaugeMetricFamily(f"{PREFIX}_notification_queue_scrape_ok", "1 when the database answered this scrape.")
        waiting = [Delivery.Status.PENDING, Delivery.Status.SENDING]
        try:
            # One transaction: the counts and the oldest come from the same moment of the queue.
            with transaction.atomic():
                counts = dict(Delivery.objects.order_by().values_list("status").annotate(n=Count("pk")))
                oldest = Delivery.objects.filter(status__in=waiting).aggregate(at=Min("created_at"))["at"]
        except Exception:
            logger.exception("metrics scrape could not read the notification queue")
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok

        deliveries = GaugeMetricFamily(
            f"{PREFIX}_notification_deliveries",
            "Stored notification deliveries by status: pending and sending are not delivered yet; "
            "failed gave up after the last retry.",
            labels=["status"],
        )
        for status in Delivery.Status.values:
            deliveries.add_metric([status], counts.get(status, 0))
        yield deliveries
        queued = GaugeMetricFamily(
            f"{PREFIX}_notification_oldest_undelivered_timestamp_seconds",
            "When the oldest notification not delivered yet was queued; no sample when none waits.",
        )
        if oldest is not None:
            queued.add_metric([], oldest.timestamp())
        yield queued


class ReadCacheCollector:
    """The read cache's own hit/miss counters (metrics.read_cache.counters()), in this process."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from metrics.read_cache import counters

        requests = CounterMetricFamily(
            f"{PREFIX}_cache_requests",
            "Read cache lookups by operation (latest, latest_all, history, series) and result "
            "(hit, miss, hit_after_wait: served after waiting for another loader, bypass: cache off).",
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
