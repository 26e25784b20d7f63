"""/metrics reports the notification queue (deliveries by status, the oldest one not delivered) and each
source's poll interval, read from the database at scrape time: what the shipped alert rules use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alerts.models import AlertEvent, Delivery, NotificationChannel
from pollers.models import Source

TOKEN = "queue-metrics-token"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Client) -> Samples:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture
def scraper(settings: Any, db: None) -> Client:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return Client()


def deliver(event: AlertEvent, channel: NotificationChannel, status: str, created_at: datetime) -> Delivery:
    delivery = Delivery.objects.create(event=event, channel=channel, reason=Delivery.Reason.FIRED, status=status)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=created_at)  # auto_now_add ignores a given value
    return delivery


@pytest.fixture
def event(db: None) -> AlertEvent:
    source = Source.objects.create(slug="eu-west", name="EU West", url="http://127.0.0.1:9/status", interval_seconds=45)
    return AlertEvent.objects.create(
        rule_name="cpu high",
        source=source,
        kind=AlertEvent.Kind.FIRED,
        severity="warning",
        condition="cpu > 0.9",
        message="cpu high",
        occurred_at=timezone.now(),
    )


def test_it_counts_deliveries_by_status_and_dates_the_oldest_waiting_one(scraper: Client, event: AlertEvent) -> None:
    channel = NotificationChannel.objects.create(name="ops", kind="email", email_to="ops@example.com")
    oldest = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    deliver(event, channel, Delivery.Status.SUCCEEDED, oldest - timedelta(hours=1))  # delivered: not waiting
    first = deliver(event, channel, Delivery.Status.PENDING, oldest)
    deliver(event, channel, Delivery.Status.PENDING, oldest + timedelta(minutes=5))
    deliver(event, channel, Delivery.Status.SENDING, oldest + timedelta(minutes=9))
    deliver(event, channel, Delivery.Status.FAILED, oldest + timedelta(minutes=1))

    parsed = scrape(scraper)

    def deliveries(status: str) -> float:
        return parsed[("devops_insights_notification_deliveries", (("status", status),))]

    assert deliveries("pending") == 2
    assert deliveries("sending") == 1
    assert deliveries("succeeded") == 1
    assert deliveries("failed") == 1
    assert parsed[("devops_insights_notification_oldest_undelivered_timestamp_seconds", ())] == oldest.timestamp()
    assert parsed[("devops_insights_notification_queue_scrape_ok", ())] == 1

    Delivery.objects.exclude(status=Delivery.Status.FAILED).update(status=Delivery.Status.SUCCEEDED)
    parsed = scrape(scraper)
    assert deliveries("pending") == 0
    assert ("devops_insights_notification_oldest_undelivered_timestamp_seconds", ()) not in parsed
    assert first.pk  # the rows are still there, only delivered


def test_it_reports_each_sources_poll_interval(scraper: Client, event: AlertEvent) -> None:
    Source.objects.create(slug="ap-south", name="AP South", url="http://127.0.0.1:9/status", interval_seconds=120)

    parsed = scrape(scraper)

    assert parsed[("devops_insights_source_interval_seconds", (("source", "eu-west"),))] == 45
    assert parsed[("devops_insights_source_interval_seconds", (("source", "ap-south"),))] == 120


def test_it_still_answers_when_the_queue_cannot_be_read(scraper: Client, event: AlertEvent) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {Delivery._meta.db_table} RENAME TO queue_metrics_gone")
    try:
        parsed = scrape(scraper)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE queue_metrics_gone RENAME TO {Delivery._meta.db_table}")

    assert parsed[("devops_insights_notification_queue_scrape_ok", ())] == 0
    assert parsed[("devops_insights_source_state_scrape_ok", ())] == 1
    assert not any(name == "devops_insights_notification_deliveries" for name, _ in parsed)
