"""The poller's Prometheus instruments, counted once per poll by ``Poller.poll`` with the poll's final outcome.

Called by the engine after every receiver has run rather than as a ``poll_completed`` receiver: a
receiver's exception turns a good poll into a failed one (``internal``) after the announcement, and
the counters must say what the poll ended as.
"""

from __future__ import annotations

from typing import Any

from observability import instruments
from pollers.outcome import PollOutcome

# Each source's labelled children, looked up once: ``labels()`` takes the metric's lock and builds a
# key on every call, which at hundreds of polls a second is a visible share of an unchanged poll.
# Bounded by sources x outcomes (the label sets Prometheus keeps anyway); nothing removes children.
_polls: dict[tuple[str, str], Any] = {}
_durations: dict[str, Any] = {}


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
    label = outcome_label(outcome)
    counter = _polls.get((slug, label))
    if counter is None:
        counter = _polls[slug, label] = instruments.POLLS.labels(source=slug, outcome=label)
    counter.inc()
    if outcome.latency_ms is not None and not outcome.skipped:
        histogram = _durations.get(slug)
        if histogram is None:
            histogram = _durations[slug] = instruments.POLL_DURATION_SECONDS.labels(source=slug)
        histogram.observe(max(outcome.latency_ms, 0.0) / 1000.0)
    if not outcome.ok and not outcome.skipped:
        # error_kind is a short machine-readable word from the poller; cut it so a bug cannot explode cardinality.
        instruments.POLL_ERRORS.labels(source=slug, kind=(outcome.error_kind or "unknown")[:40]).inc()
    if outcome.attempts > 1:
        instruments.POLL_RETRIES.labels(source=slug).inc(outcome.attempts - 1)
