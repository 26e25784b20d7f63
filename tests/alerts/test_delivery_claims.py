"""Senders draining the outbox together: each notification is sent by one of them, once.

A sender claims a batch with one lease; another sender takes over a row whose lease has run out.
These tests play the senders' steps in turn (``claim_due`` with the time another sender would see,
``attempt`` for each row), against a real receiver on loopback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from alerts.delivery import attempt, claim_due, claim_lease, deliver_due
from alerts.models import Delivery
from tests.alerts.support import PollDriver, make_channel, make_rule
from tests.factories import make_source
from tests.webhook_receiver import WebhookReceiver

SECRET = "whsec-0123456789abcdef-CLAIMS"


@pytest.fixture
def loopback_hooks(settings: Any) -> Any:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.ALERTS_DELIVERY_MODE = "command"  # no dispatcher thread: the test plays every sender
    settings.ALERTS_DELIVERY_CONCURRENCY = 1
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 3
    settings.ALERTS_WEBHOOK_TIMEOUT = 5.0
    return settings


def queue_alerts(receiver: WebhookReceiver, count: int) -> list[int]:
    """``count`` rules firing on one poll: ``count`` deliveries queued for one webhook channel."""
    channel = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
    for n in range(count):
        make_rule(
            name=f"cpu {n}",
            kind="metric",
            metric="cpu_load",
            operator=">",
            threshold=85,
            fire_after=1,
            channels=[channel],
        )
    PollDriver(make_source()).ok(cpu_load=97)
    pks = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    assert len(pks) == count
    return pks


def sends(receiver: WebhookReceiver) -> Counter[int]:
    """How many times the receiver got each delivery."""
    return Counter(int(hit.headers["X-Insights-Delivery"]) for hit in receiver.received)


def start_sender(deliveries: list[Delivery]) -> tuple[threading.Thread, list[bool]]:
    """Sender A: attempts ``deliveries`` in a thread of its own, on its own database connection."""
    outcome: list[bool] = []

    def send() -> None:
        try:
            outcome.extend(attempt(delivery) for delivery in deliveries)
        finally:
            connections.close_all()

    thread = threading.Thread(target=send)
    thread.start()
    return thread, outcome


def wait_for_a_send(receiver: WebhookReceiver) -> None:
    """Until sender A's request has reached the receiver (A is then inside its send)."""
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert receiver.received, "sender A never sent"


def past_the_lease() -> datetime:
    """The time another sender sees once every claim taken until now has run out."""
    return timezone.now() + claim_lease() + timedelta(seconds=1)


@pytest.mark.django_db
def test_it_sends_each_notification_once_when_another_sender_takes_over_the_rest_of_a_long_batch(
    loopback_hooks: Any,
) -> None:
    with WebhookReceiver(secret=SECRET) as receiver:
        pks = queue_alerts(receiver, 4)
        first = claim_due(100)  # sender A: one claim for the whole batch
        assert [delivery.pk for delivery in first] == pks
        assert [attempt(delivery) for delivery in first[:2]] == [True, True]
        # A's sends were slow (a mass alert on a slow channel): the claim it took with the batch has
        # run out, and sender B's dispatcher claims the rows A has not reached yet and sends them.
        second = claim_due(100, now=past_the_lease())
        assert [delivery.pk for delivery in second] == pks[2:]
        assert [attempt(delivery) for delivery in second] == [True, True]
        # A goes on with the batch it holds in memory.
        rest = [attempt(delivery) for delivery in first[2:]]
    assert sends(receiver) == Counter(dict.fromkeys(pks, 1))
    assert rest == [False, False]  # skipped: B had them
    assert set(Delivery.objects.values_list("status", "attempts", "response_code")) == {("succeeded", 1, 200)}


@pytest.mark.django_db(transaction=True)  # sender A runs in a thread, on its own connection
def test_it_leaves_the_row_a_sender_is_sending_to_it_when_the_claim_of_its_batch_runs_out(
    loopback_hooks: Any,
) -> None:
    answer_a = threading.Event()
    with WebhookReceiver(secret=SECRET, holds=[answer_a]) as receiver:
        pks = queue_alerts(receiver, 2)
        # A claimed its batch half a lease ago (it was busy since) and starts the first send now.
        claimed_at = timezone.now() - claim_lease() / 2
        Delivery.objects.update(next_attempt_at=claimed_at)
        batch = claim_due(100, now=claimed_at)
        sender_a, outcome = start_sender(batch)
        try:
            wait_for_a_send(receiver)
            # While A waits on the receiver, B's pass comes after the batch's claim has run out, but
            # within a lease of A starting this send: B takes over only the row A has not reached.
            taken = claim_due(100, now=claimed_at + claim_lease() + timedelta(seconds=1))
            assert [delivery.pk for delivery in taken] == pks[1:]
            assert [attempt(delivery) for delivery in taken] == [True]
        finally:
            answer_a.set()
            sender_a.join(10)
    assert sends(receiver) == Counter(dict.fromkeys(pks, 1))
    assert outcome == [True, False]
    assert set(Delivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}


@pytest.mark.django_db(transaction=True)  # sender A runs in a thread, on its own connection
def test_it_never_lets_a_late_failure_undo_the_success_of_the_sender_that_took_the_row_over(
    loopback_hooks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alerts.delivery")
    answer_a = threading.Event()
    # A's send fails with a 500, answered only once B has sent the same row and recorded it.
    with WebhookReceiver(secret=SECRET, statuses=[500], holds=[answer_a]) as receiver:
        [pk] = queue_alerts(receiver, 1)
        [held_by_a] = claim_due(100)
        sender_a, outcome = start_sender([held_by_a])
        try:
            wait_for_a_send(receiver)
            # A's send outlasts its lease: B takes the row over and delivers it.
            [held_by_b] = claim_due(100, now=past_the_lease())
            assert held_by_b.pk == pk
            assert attempt(held_by_b) is True
        finally:
            answer_a.set()
            sender_a.join(10)
    assert outcome == [False]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.last_error) == (
        "succeeded",
        1,
        200,
        "",
    )
    assert delivery.finished_at is not None
    # Nothing left for a later pass to send a third time.
    assert claim_due(100, now=timezone.now() + timedelta(hours=1)) == []
    assert len(receiver.received) == 2
    assert "another sender took it over during the send; outcome left to it" in caplog.text


@pytest.mark.django_db
def test_it_takes_over_and_sends_once_what_a_crashed_sender_had_claimed(loopback_hooks: Any) -> None:
    with WebhookReceiver(secret=SECRET) as receiver:
        pks = queue_alerts(receiver, 3)
        crashed = claim_due(100)
        assert attempt(crashed[0]) is True  # it sent the first row and died before the others
        assert deliver_due() == 0  # its claim stands until its lease runs out
        # The lease runs out (the crashed sender never comes back to its rows).
        Delivery.objects.filter(status="sending").update(claimed_until=timezone.now() - timedelta(seconds=1))
        assert deliver_due() == 2  # the next pass of a live sender takes them over
        assert deliver_due() == 0
    assert sends(receiver) == Counter(dict.fromkeys(pks, 1))
    assert set(Delivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}
