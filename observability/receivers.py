"""Signal receivers that turn what other areas announce into the service's own metrics."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from observability import instruments
from observability.context import request_id_var, sane_request_id
from observability.models import RetentionPolicy
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed

logger = logging.getLogger(__name__)


def outcome_label(outcome: PollOutcome) -> str:
    if outcome.skipped:
        return "skipped"
    if not outcome.ok:
        return "failed"
    if outcome.record is not None and outcome.record.changed:
        return "changed"
    return "unchanged"


@receiver(poll_completed, dispatch_uid="observability.count_poll")
def count_poll(sender: Any, source: Any, outcome: PollOutcome, **kwargs: Any) -> None:
    slug = outcome.source
    instruments.POLLS.labels(source=slug, outcome=outcome_label(outcome)).inc()
    if outcome.latency_ms is not None and not outcome.skipped:
        instruments.POLL_DURATION_SECONDS.labels(source=slug).observe(max(outcome.latency_ms, 0.0) / 1000.0)
    if not outcome.ok and not outcome.skipped:
        # error_kind is a short machine-readable word from the poller; cut it so a bug cannot explode cardinality.
        instruments.POLL_ERRORS.labels(source=slug, kind=(outcome.error_kind or "unknown")[:40]).inc()
    if outcome.attempts > 1:
        instruments.POLL_RETRIES.labels(source=slug).inc(outcome.attempts - 1)
    # The poller's own metrics server comes up with its first poll when POLLER_METRICS_PORT is set,
    # so the poller needs no call of ours (it may still call start_poller_metrics_server() earlier).
    from observability import maintenance
    from observability.exposition import start_poller_metrics_server

    start_poller_metrics_server()
    maintenance.after_poll()


@receiver(post_save, sender=RetentionPolicy, dispatch_uid="observability.ttl_on_save")
@receiver(post_delete, sender=RetentionPolicy, dispatch_uid="observability.ttl_on_delete")
def follow_policy_with_ttl(sender: Any, **kwargs: Any) -> None:
    """A policy changed in the admin: move the MongoDB history TTL with it (collMod) right away."""
    if settings.METRIC_STORE != "mongodb":
        return
    from metrics.stores import get_store
    from observability.ttl import sync_ttl

    try:
        sync_ttl(get_store())
    except Exception:
        # The next `manage.py prune` syncs again; an unreachable MongoDB must not fail the admin save.
        logger.exception("could not apply the retention policy to the MongoDB TTL index")


@receiver(request_started, dispatch_uid="observability.bind_request_id")
def bind_request_id(
    sender: Any, environ: dict[str, Any] | None = None, scope: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    """Bind the request id for the whole handler, not only the middleware chain.

    Django logs some responses (a 4xx/5xx a middleware replaced) after the middleware chain has
    returned; binding here, when the request starts, puts the id on those lines too. The
    middleware then adopts this id rather than making another.
    """
    header: str | None = None
    if environ is not None:
        header = environ.get("HTTP_X_REQUEST_ID")
    elif scope is not None:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"x-request-id":
                header = value.decode("latin-1")
                break
    request_id_var.set(sane_request_id(header))


@receiver(request_finished, dispatch_uid="observability.unbind_request_id")
def unbind_request_id(sender: Any, **kwargs: Any) -> None:
    request_id_var.set(None)
