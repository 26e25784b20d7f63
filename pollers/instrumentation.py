"""The poller's Prometheus instruments, counted once per poll by ``Poller.poll`` with the poll's final outcome.

Called by the engine after every receiver has run rather than as a ``poll_completed`` receiver: a
receiver's exception turns a good poll into a failed one (``internal``) after the announcement, and
the counters must say what the poll ended as.
"""

from __future__ import annotations

from observability import instruments
from pollers.outcome import PollOutcome


def outcome_label(outcome: PollOutcome) -> str:
    if outcome.skipped:
        return "skipped"
    if not outcome.ok:
        return "failed"
    if outcome.record is not None and outcome.record.changed:
        return "changed"
    return "unchanged"


def count_poll(outcome: PollOutcome) -> None:
    slug = outcome.source
    instruments.POLLS.labels(source=slug, outcome=outcome_label(outcome)).inc()
    if outcome.latency_ms is not None and not outcome.skipped:
        instruments.POLL_DURATION_SECONDS.labels(source=slug).observe(max(outcome.latency_ms, 0.0) / 1000.0)
    if not outcome.ok and not outcome.skipped:
        # error_kind is a short machine-readable word from the poller; cut it so a bug cannot explode cardinality.
        instruments.POLL_ERRORS.labels(source=slug, kind=(outcome.error_kind or "unknown")[:40]).inc()
    if outcome.attempts > 1:
        instruments.POLL_RETRIES.labels(source=slug).inc(outcome.attempts - 1)
