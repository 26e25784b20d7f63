"""Prometheus collector of source poll health, read from the database at scrape time (pollers.apps).

Circuit, failures, last success, poll interval and alert state of every source, and the number of live pollers:
shared state, so every web replica reports the same values (``GET /metrics`` only). A failing read
never fails the scrape: the collector reports ``..._source_state_scrape_ok 0`` and logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from observability.instruments import PREFIX
from pollers.models import PollerProcess, Source, SourceAlertLevel

logger = logging.getLogger(__name__)


class SourceStateCollector(Collector):
    def describe(self) -> list[Metric]:
        # Returning nothing keeps registration from calling collect() (and the database) at start-up.
        return []

    def collect(self) -> Iterator[Metric]:
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
            for state in SourceAlertLevel.values:
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
