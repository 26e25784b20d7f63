"""Keep alert history bounded: events (and their deliveries) older than the retention go."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alerts.models import AlertEvent, Delivery, RuleState

log = logging.getLogger("alerts")


def prune_history(now: datetime | None = None) -> int:
    """Delete events older than ``ALERTS_EVENT_RETENTION_DAYS``, except those of alerts still firing."""
    before = (now or timezone.now()) - timedelta(days=settings.ALERTS_EVENT_RETENTION_DAYS)
    firing = RuleState.objects.filter(fired_event__isnull=False).values("fired_event_id")
    old = AlertEvent.objects.filter(occurred_at__lt=before).exclude(pk__in=firing)
    _, by_model = old.delete()
    # Test deliveries have no event to go with: they age out on their own date.
    Delivery.objects.filter(is_test=True, created_at__lt=before).delete()
    events = by_model.get(AlertEvent._meta.label, 0)
    if events:
        log.info("pruned %s alert events older than %s", events, before.isoformat())
    return events
