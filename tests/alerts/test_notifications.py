"""Notifications: email (locmem), signed webhooks and Slack to a real local receiver, retries, isolation."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from alerts.delivery import backoff, deliver_due
from alerts.dispatcher import dispatcher
from alerts.models import AlertEvent, Delivery, Silence
from tests.alerts.support import START, PollDriver, make_channel, make_rule
from tests.factories import make_source
from tests.webhook_receiver import WebhookReceiver

SECRET = "whsec-0123456789abcdef-TOPSECRET"


@pytest.fixture
def loopback_hooks(settings: Any) -> Any:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.ALERTS_DELIVERY_CONCURRENCY = 1
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 3
    settings.ALERTS_WEBHOOK_TIMEOUT = 2.0
    return settings


def cpu_rule(**fields: Any) -> Any:
    fields.setdefault("name", "cpu")
    return make_rule(kind="metric", metric="cpu_load", operator=">", threshold=85, **fields)


@pytest.mark.django_db
def test_it_signs_webhooks_so_the_receiver_can_verify_them(loopback_hooks: Any) -> None:
    source = make_source()
    with WebhookReceiver(secret=SECRET) as receiver:
        channel = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        cpu_rule(fire_after=1, channels=[channel])
        PollDriver(source).ok(cpu_load=97)
        assert deliver_due() == 1
    [hit] = receiver.received
    assert hit.signature_ok is True
    assert hit.headers["X-Insights-Event"] == "fired"
    document = hit.json()
    assert document["reason"] == "fired"
    assert document["event"]["source"] == "us-east"
    assert document["event"]["value"]["value"] == 97
    delivery = Delivery.objects.get()
    assert hit.headers["X-Insights-Delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)


@pytest.mark.django_db
def test_it_retries_with_backoff_and_records_the_outcome(loopback_hooks: Any) -> None:
    source = make_source()
    with WebhookReceiver(secret=SECRET, statuses=[500, 503]) as receiver:
        channel = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        cpu_rule(fire_after=1, channels=[channel])
        PollDriver(source).ok(cpu_load=97)
        before = timezone.now()
        deliver_due()
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
        assert delivery.next_attempt_at >= before + backoff(1)
        assert deliver_due() == 0  # not due yet: a failure is retried later, never in a loop
        for expected_error in ("HTTP 503", ""):
            Delivery.objects.update(next_attempt_at=timezone.now())  # time passes
            deliver_due()
            delivery.refresh_from_db()
            assert delivery.last_error == expected_error
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    assert len(receiver.received) == 3
    assert backoff(1) < backoff(2) < backoff(3)


@pytest.mark.django_db
def test_it_gives_up_after_the_last_attempt_without_leaking_secrets(
    loopback_hooks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source()
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver(secret="a-different-secret-entirely") as receiver:
        channel = make_channel(kind="webhook", url=receiver.url("/hook/T0KEN-IN-PATH"), secret=SECRET)
        cpu_rule(fire_after=1, channels=[channel])
        PollDriver(source).ok(cpu_load=97)
        for _ in range(3):
            Delivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
            deliver_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 401")
    assert [hit.signature_ok for hit in receiver.received] == [False, False, False]
    assert "giving up" in caplog.text
    for text in (caplog.text, delivery.last_error):
        assert SECRET not in text
        assert "T0KEN-IN-PATH" not in text


@pytest.mark.django_db
def test_it_keeps_urls_out_of_connection_errors(loopback_hooks: Any, caplog: pytest.LogCaptureFixture) -> None:
    from tests.services import free_port

    source = make_source()
    closed = f"http://127.0.0.1:{free_port()}/services/T0KEN-IN-PATH"
    channel = make_channel(kind="slack", url=closed)
    cpu_rule(fire_after=1, channels=[channel])
    PollDriver(source).ok(cpu_load=97)
    deliver_due()
    delivery = Delivery.objects.get()
    assert delivery.last_error == "request failed: ConnectionError"
    assert "T0KEN-IN-PATH" not in caplog.text


@pytest.mark.django_db
def test_it_sends_email_and_slack(loopback_hooks: Any) -> None:
    loopback_hooks.ALERTS_PUBLIC_URL = "https://insights.example.com"
    source = make_source()
    with WebhookReceiver() as receiver:
        email = make_channel(kind="email", email_to="ops@example.com, oncall@example.com")
        slack = make_channel(kind="slack", url=receiver.url("/services/T000/B000/XXX"))
        cpu_rule(fire_after=1, resolve_after=1, severity="critical", channels=[email, slack])
        polls = PollDriver(source)
        polls.ok(cpu_load=97)
        polls.ok(cpu_load=10)
        assert deliver_due() == 4
    assert [m.subject for m in mail.outbox] == [
        "[FIRING] critical: cpu on us-east",
        "[RESOLVED] critical: cpu on us-east",
    ]
    assert mail.outbox[0].to == ["ops@example.com", "oncall@example.com"]
    assert "Condition: cpu_load > 85" in mail.outbox[0].body
    assert mail.outbox[0].body.endswith("https://insights.example.com/sources/us-east/")
    texts = [hit.json()["text"] for hit in receiver.received]
    assert texts[0].startswith(":red_circle: *[FIRING] critical: cpu on us-east*")
    assert texts[1].startswith(":large_green_circle: *[RESOLVED] critical: cpu on us-east*")
    assert texts[0].endswith("<https://insights.example.com/sources/us-east/|Open us-east>")


@pytest.mark.django_db
def test_it_uses_default_channels_when_a_rule_names_none(loopback_hooks: Any) -> None:
    source = make_source()
    make_channel(kind="email", email_to="ops@example.com", is_default=True)
    make_channel(kind="email", email_to="other@example.com")
    make_channel(kind="email", email_to="off@example.com", is_default=True, enabled=False)
    cpu_rule(fire_after=1)
    PollDriver(source).ok(cpu_load=97)
    deliver_due()
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


@pytest.mark.django_db
def test_it_sends_one_notification_for_a_flapping_source(loopback_hooks: Any) -> None:
    source = make_source()
    channel = make_channel(kind="email", email_to="ops@example.com")
    cpu_rule(fire_after=1, resolve_after=1, renotify_interval_seconds=3600, channels=[channel])
    polls = PollDriver(source)
    for _ in range(15):  # flapping every poll for 15 minutes
        polls.ok(cpu_load=99)
        polls.ok(cpu_load=1)
    assert AlertEvent.objects.filter(kind="fired").count() == 15
    assert AlertEvent.objects.filter(kind="resolved").count() == 15
    deliver_due()
    assert [m.subject.split("]")[0] for m in mail.outbox] == ["[FIRING", "[RESOLVED"]


@pytest.mark.django_db
def test_it_records_but_does_not_notify_during_a_silence(loopback_hooks: Any) -> None:
    source = make_source(tags=["prod"])
    channel = make_channel(kind="email", email_to="ops@example.com")
    cpu_rule(fire_after=1, channels=[channel])
    Silence.objects.create(tag="prod", reason="maintenance", starts_at=START, ends_at=START + timedelta(minutes=2))
    polls = PollDriver(source, interval=30)
    for _ in range(4):  # 12:00:00 to 12:01:30, all inside the silence
        polls.ok(cpu_load=99)
    event = AlertEvent.objects.get()
    assert event.silenced is True
    assert source.alert_state == "degraded"  # the truth is still shown
    assert not Delivery.objects.exists()
    polls.ok(cpu_load=99)  # 12:02:00: the silence is over and the alert still fires
    deliver_due()
    assert [m.subject for m in mail.outbox] == ["[FIRING] warning: cpu on us-east"]
    assert Delivery.objects.get().event_id == event.pk


@pytest.mark.django_db
def test_it_refuses_an_internal_webhook_at_send_time(settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    source = make_source()
    with WebhookReceiver(secret=SECRET) as receiver:
        channel = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        cpu_rule(fire_after=1, channels=[channel])
        PollDriver(source).ok(cpu_load=97)
        settings.POLLER_ALLOWED_PRIVATE_HOSTS = []  # the allowlist changed after the channel was saved
        deliver_due()
    assert receiver.received == []
    assert Delivery.objects.get().last_error.startswith("refused: 127.0.0.1 is a loopback address")


@pytest.mark.django_db
def test_it_drains_the_outbox_from_the_command(loopback_hooks: Any) -> None:
    source = make_source()
    channel = make_channel(kind="email", email_to="ops@example.com")
    cpu_rule(fire_after=1, channels=[channel])
    PollDriver(source).ok(cpu_load=97)
    call_command("send_notifications")
    assert len(mail.outbox) == 1
    assert Delivery.objects.get().status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_it_never_lets_a_hanging_channel_block_polling_or_another_channel(loopback_hooks: Any) -> None:
    loopback_hooks.ALERTS_DELIVERY_CONCURRENCY = 4
    loopback_hooks.ALERTS_DELIVERY_MODE = "thread"
    loopback_hooks.ALERTS_DELIVERY_POLL_INTERVAL = 0.2
    loopback_hooks.ALERTS_WEBHOOK_TIMEOUT = 1.5
    source = make_source()
    try:
        with WebhookReceiver(delay=5.0) as hanging, WebhookReceiver(secret=SECRET) as healthy:
            stuck = make_channel(kind="slack", url=hanging.url())
            fine = make_channel(kind="webhook", url=healthy.url(), secret=SECRET)
            cpu_rule(fire_after=1, channels=[stuck, fine])
            started = time.monotonic()
            PollDriver(source).ok(cpu_load=97)  # evaluation only queues; the dispatcher thread sends
            assert time.monotonic() - started < 1.0
            deadline = time.monotonic() + 5
            while not healthy.received and time.monotonic() < deadline:
                time.sleep(0.02)
            assert healthy.received, "the healthy channel was not delivered"
            assert healthy.received[0].at - started < 1.0  # not after the hanging channel's timeout
            while not hanging.received and time.monotonic() < deadline:
                time.sleep(0.02)
            assert hanging.received  # it was being attempted at the same time
            assert hanging.received[0].at - started < 1.0
            while Delivery.objects.filter(channel=stuck, attempts=0).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        dispatcher.stop()
    assert Delivery.objects.get(channel=fine).status == "succeeded"
    stuck_delivery = Delivery.objects.get(channel=stuck)
    assert (stuck_delivery.status, stuck_delivery.last_error) == ("pending", "timed out")
