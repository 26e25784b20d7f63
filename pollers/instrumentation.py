"""The poller's Prometheus instruments, counted from its own ``poll_completed`` signal (pollers.apps).

A receiver rather than calls inside the engine: every poll, whichever code path ends it, is
announced exactly once through the signal, so counting there counts each poll once.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from observability import instruments
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed


def outcome_label(outcome: PollOutcome) -> str:
    if outcome.skipped:
        return "skipped"
    if not outcome.ok:
        return "failed"
    if outcome.record is not None and outcome.record.changed:
        return "changed"
    return "unchanged"


@receiver(poll_completed, dispatch_uid="pollers.instrumentation.count_poll")
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
