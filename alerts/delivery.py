"""Drain the delivery outbox: claim due deliveries atomically, send them, record the outcome.

Deliveries are rows written in the same transaction as the alert event, so nothing is lost when
a process dies; any number of senders (the poller's dispatcher thread, ``manage.py
send_notifications``) can drain the outbox together because each row is claimed by a
conditional UPDATE. A claim is a lease (``claim_lease``): the sender renews a row's claim, again
by a conditional UPDATE, just before sending it, skips the row if another sender has taken it
over, and records the outcome only while it still holds the claim. So each row is sent by one
healthy sender however long its batch takes, and one sender's late outcome never overwrites
another's. A sender that dies leaves its rows to be taken over once their lease runs out, so
delivery is at-least-once: a sender that dies mid-send (or a send that outlasts its lease) can
mean a second send. Each channel's deliveries run in their own worker, so a slow or failing
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
from django.db.models import QuerySet
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
    # Read back only the rows still carrying this claim (one whose lease had already run out, with a
    # ``now`` in the past, may be another sender's by now): each delivery's claimed_until is its claim.
    held = Delivery.objects.filter(pk__in=claimed, status=Delivery.Status.SENDING, claimed_until=until)
    return list(held.select_related("channel", "event", "event__source").order_by("pk"))


def _held(delivery: Delivery) -> QuerySet[Delivery]:
    """The delivery's row while it still carries the claim this sender holds (``delivery.claimed_until``).

    A claim is known by the exact claimed_until its sender wrote: simpler than a claim token (no
    column, no migration) and as unique. Another sender takes a row over only once its claimed_until
    has passed, and writes its own time plus a lease, later than the value it replaced; its renewals
    and any later claim are later again, so an old holder's value never matches the row again
    (given clocks that agree to well within a lease, which the lease itself needs).
    """
    return Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING, claimed_until=delivery.claimed_until)


def _renew(delivery: Delivery) -> bool:
    """Extend this sender's claim to a lease from now; False when another sender has taken it over."""
    until = timezone.now() + claim_lease()
    if not _held(delivery).update(claimed_until=until):
        return False
    delivery.claimed_until = until
    return True


def deliver_due(limit: int | None = None, concurrency: int | None = None) -> int:
    """Send every due delivery (up to ``limit``); return how many were claimed.

    Each claimed delivery is attempted unless another sender took it over first (see ``attempt``).
    """
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
            log.exception("delivery %s: renewing its claim or recording its outcome failed", delivery.pk)


def attempt(delivery: Delivery) -> bool:
    """Send once and record the outcome, if this sender still holds the claim; True when delivered."""
    # The claim taken with the batch covers one send, not the whole batch: a slow channel's later
    # rows would run past it while they wait here, and another sender would take them over and
    # send them too. Renewed now, the row is this sender's for the send.
    if not _renew(delivery):
        log.info("delivery %s: another sender took it over after this one's claim ran out; skipped", delivery.pk)
        return False
    attempts = delivery.attempts + 1
    try:
        code = senders.send(delivery)
    except senders.SendError as exc:
        return _failed(delivery, attempts, str(exc), exc.status_code)
    except Exception as exc:
        # Unexpected: keep the type only, a message could carry a URL or a secret.
        return _failed(delivery, attempts, f"unexpected error: {type(exc).__name__}", None)
    now = timezone.now()
    recorded = _held(delivery).update(
        status=Delivery.Status.SUCCEEDED,
        attempts=attempts,
        response_code=code,
        last_error="",
        claimed_until=None,
        finished_at=now,
    )
    if not recorded:
        # The send outlasted the lease and the row went to another sender: its outcome stands.
        log.warning(
            "delivery %s to channel %s sent, but another sender took it over during the send; outcome left to it",
            delivery.pk,
            delivery.channel.name,
        )
        return True
    log.info("delivery %s (%s) to channel %s sent", delivery.pk, delivery.reason, delivery.channel.name)
    return True


def _failed(delivery: Delivery, attempts: int, error: str, code: int | None) -> bool:
    now = timezone.now()
    final = attempts >= settings.ALERTS_DELIVERY_MAX_ATTEMPTS
    recorded = _held(delivery).update(
        status=Delivery.Status.FAILED if final else Delivery.Status.PENDING,
        attempts=attempts,
        response_code=code,
        last_error=error[:500],
        claimed_until=None,
        next_attempt_at=now if final else now + backoff(attempts),
        finished_at=now if final else None,
    )
    if not recorded:
        # Another sender took the row over during the send: recording this failure would undo its
        # outcome (a success turned back to pending, and sent a third time).
        log.warning(
            "delivery %s to channel %s failed (attempt %s), but another sender took it over during the send; "
            "outcome left to it: %s",
            delivery.pk,
            delivery.channel.name,
            attempts,
            error,
        )
        return False
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
