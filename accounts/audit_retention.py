"""The audit trail's retention: events older than ``AUDIT_RETENTION_DAYS`` are deleted by the retention run
(``manage.py prune`` and the poller's periodic prune, through metrics' ``retention_applied`` signal), the one
way out of the append-only table (``AuditEvent.objects.prune_before``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import AuditEvent

logger = logging.getLogger("accounts.audit")


def prune_audit(now: datetime | None = None) -> int:
    """Delete the audit events older than the retention; the number deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted = AuditEvent.objects.prune_before(cutoff)
    if deleted:
        logger.info("pruned %d audit event(s) older than %s", deleted, cutoff.isoformat())
    return deleted


def on_retention_applied(
    sender: Any, now: datetime | None = None, progress: Callable[[str], None] | None = None, **kwargs: Any
) -> None:
    deleted = prune_audit(now)
    if progress is not None:
        progress(f"audit trail: {deleted} event(s) older than {settings.AUDIT_RETENTION_DAYS} days deleted")


def connect() -> None:
    from metrics.lifecycle.signals import retention_applied

    retention_applied.connect(on_retention_applied, dispatch_uid="accounts.audit_retention")
