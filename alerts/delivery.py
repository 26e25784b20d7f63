"""Drain the delivery outbox: claim due deliveries atomically, send them, record the outcome.

Deliveries are rows written in the same transaction as the alert event, so nothing is lost when
a process dies; any number of senders (the poller's dispatcher thread, ``manage.py
send_notifications``) can drain the outbox together because each row is claimed by a
conditional UPDATE. Each channel's deliveries run in their own worker, so a slow or failing
channel delays only itself; a failure is retried later with exponential backoff (no sleeping
in the sender) until ``ALERTS_DELIVERY_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

from alerts import senders
from alerts.models import Delivery

log = logging.getLogger("alerts.delivery")


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failures: base * 2^(n-1), capped."""
    base = float(settings.ALERTS_DELIVERY_BACKOFF_BASE)
    cap = float(settings.ALERTS_DELIVERY_BACKOFF_MAX)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def claim_lease() -> timedelta:
    # Long enough for one send to time out; after it, a crashed sender's claim is taken over.
    return timedelta(seconds=2 * (settings.ALERTS_WEBHOOK_CONNECT_TIMEOUT + settings.ALERTS_WEBHOOK_TIMEOUT) + 30)


def claim_due(limit: int, now: datetime | None = None) -> list[Delivery]:
    now = now or timezone.now()
    candidates = list(Delivery.objects.due(now).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    claimed: list[int] = []
    until = now + claim_lease()
    for pk in candidates:
        # The same condition again, atomically: of several senders exactly one gets each row.
        if Delivery.objects.due(now).filter(pk=pk).update(status=Delivery.Status.SENDING, claimed_until=until):
            claimed.append(pk)
    return list(
        Delivery.objects.filter(pk__in=claimed).select_related("channel", "event", "event__source").order_by("pk")
    )


def deliver_due(limit: int | None = None, concurrency: int | None = None) -> int:
    """Send every due delivery (up to ``limit``); return how many were attempted."""
    limit = limit or settings.ALERTS_DELIVERY_BATCH
    concurrency = concurrency or settings.ALERTS_DELIVERY_CONCURRENCY
    batch = claim_due(limit)
    if not batch:
        return 0
    by_channel: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in batch:
        by_channel[delivery.channel_id].append(delivery)
    groups = list(by_channel.values())
    if concurrency <= 1 or len(groups) == 1:
        for group in groups:
            _send_group(group)
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(groups)), thread_name_prefix="alerts-send") as pool:
            for future in [pool.submit(_send_group_in_thread, group) for group in groups]:
                future.result()
    return len(batch)


def _send_group_in_thread(group: list[Delivery]) -> None:
    try:
        _send_group(group)
    finally:
        connections.close_all()  # this worker thread's own connections


def _send_group(group: list[Delivery]) -> None:
    for delivery in group:
        try:
            attempt(delivery)
        except Exception:
            log.exception("delivery %s: recording its outcome failed", delivery.pk)


def attempt(delivery: Delivery) -> bool:
    """Send once and record the outcome; True when delivered."""
    attempts = delivery.attempts + 1
    try:
        code = senders.send(delivery)
    except senders.SendError as exc:
        return _failed(delivery, attempts, str(exc), exc.status_code)
    except Exception as exc:
        # Unexpected: keep the type only, a message could carry a URL or a secret.
        return _failed(delivery, attempts, f"unexpected error: {type(exc).__name__}", None)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SUCCEEDED,
        attempts=attempts,
        response_code=code,
        last_error="",
        claimed_until=None,
        finished_at=now,
    )
    log.info("delivery %s (%s) to channel %s sent", delivery.pk, delivery.reason, delivery.channel.name)
    return True


def _failed(delivery: Delivery, attempts: int, error: str, code: int | None) -> bool:
    now = timezone.now()
    final = attempts >= settings.ALERTS_DELIVERY_MAX_ATTEMPTS
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED if final else Delivery.Status.PENDING,
        attempts=attempts,
        response_code=code,
        last_error=error[:500],
        claimed_until=None,
        next_attempt_at=now if final else now + backoff(attempts),
        finished_at=now if final else None,
    )
    log.warning(
        "delivery %s to channel %s failed (attempt %s%s): %s",
        delivery.pk,
        delivery.channel.name,
        attempts,
        ", giving up" if final else "",
        error,
    )
    return False


def run_once() -> int:
    """One drain of the outbox, for loops: keeps going while full batches come back."""
    total = 0
    while True:
        sent = deliver_due()
        total += sent
        if sent < settings.ALERTS_DELIVERY_BATCH:
            return total
