"""Prometheus collector of the notification queue, read from the database at scrape time (alerts.apps).

Deliveries by status and the age of the oldest one not delivered yet: shared state, so every web
replica reports the same values (``GET /metrics`` only). A failing read never fails the scrape: the
collector reports ``..._notification_queue_scrape_ok 0`` and logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import transaction
from django.db.models import Count, Min
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.models import Delivery
from observability.instruments import PREFIX

logger = logging.getLogger(__name__)


class DeliveryQueueCollector(Collector):
    """Notifications waiting to be delivered (Delivery pending or sending): how many, and since when."""

    def describe(self) -> list[Metric]:
        # Returning nothing keeps registration from calling collect() (and the database) at start-up.
        return []

    def collect(self) -> Iterator[Metric]:
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
