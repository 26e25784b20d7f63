"""Poll outcomes as availability samples (metrics.availability, docs/availability.md).

The poller counts every poll's outcome right after the poll (``record_availability``); the
``backfill_availability`` command derives samples for polls made before that, from the
poll-failure log and the history (``backfill_source``). Both classify a poll the same way:

- up: the upstream answered with a usable document (and ``store_error``: our store failing says
  nothing about the upstream, which did answer);
- down: every other failure, under its error kind (``timeout``, ``http_503``, ``bad_payload``...),
  including ``circuit_open`` skips: the poller believes the upstream down and spares it a request,
  and counting those keeps an outage's share of the polls what it would have been without the circuit;
- not counted: polls of a source deleted meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from metrics.availability import error_kind_key, live_since
from metrics.stores.base import MetricStore, PollSample
from pollers.models import PollFailure
from pollers.outcome import PollOutcome

logger = logging.getLogger("pollers.availability")

STORE_ERROR = "store_error"
NOT_COUNTED = frozenset({"deleted"})
HISTORY_PAGE = 1000


def classify(at: datetime, ok: bool, error_kind: str, latency_ms: float | None) -> PollSample:
    if ok or error_kind == STORE_ERROR:
        return PollSample(at, True, latency_ms)
    return PollSample(at, False, latency_ms, error_kind_key(error_kind))


def sample_for(outcome: PollOutcome) -> PollSample | None:
    if not outcome.ok and outcome.error_kind in NOT_COUNTED:
        return None
    return classify(outcome.started_at, outcome.ok, outcome.error_kind, outcome.latency_ms)


def record_availability(store: MetricStore, outcome: PollOutcome) -> None:
    """Count one poll; never raises. A failed count is logged and dropped, not retried (see the contract)."""
    sample = sample_for(outcome)
    if sample is None:
        return
    try:
        store.record_poll_outcome(outcome.source, sample.at, sample.up, sample.latency_ms, sample.error_kind)
    except Exception as exc:
        logger.warning(
            "poll %s %s: counting its availability failed: %s: %s",
            outcome.poll_id,
            outcome.source,
            type(exc).__name__,
            exc,
        )


# --- backfill ------------------------------------------------------------------------------


@dataclass
class Backfill:
    """What the backfill derived for one source: samples in [since, until)."""

    source: str
    since: datetime
    until: datetime
    live_found: bool  # False: the poller has counted nothing yet, so ``until`` is the command's start
    samples: list[PollSample] = field(default_factory=list)

    @property
    def up(self) -> int:
        return sum(1 for sample in self.samples if sample.up)

    @property
    def down(self) -> int:
        return len(self.samples) - self.up


def plan_backfill(store: MetricStore, source: str, since: datetime, now: datetime) -> Backfill:
    """The samples the source's stored data stands for, up to where the poller began counting.

    Every history entry is one good poll (its latency was not kept: counted up without one); every
    logged failure is one poll classified as the poller classifies it. Unchanged good polls left no
    trace, and the failure log keeps only the newest POLLER_FAILURE_HISTORY rows per source: see
    docs/availability.md for what that means for backfilled uptime.
    """
    began = live_since(store.oldest_live_availability(source))
    until = now if began is None else min(began, now)
    plan = Backfill(source=source, since=since, until=until, live_found=began is not None)
    if until <= since:
        return plan
    plan.samples.extend(PollSample(at, True) for at in _history_times(store, source, since, until))
    failures = PollFailure.objects.filter(source__slug=source, occurred_at__gte=since, occurred_at__lt=until)
    for occurred_at, kind, latency_ms in failures.values_list("occurred_at", "kind", "latency_ms").iterator():
        plan.samples.append(classify(occurred_at, False, kind, latency_ms))
    return plan


def backfill_source(store: MetricStore, source: str, since: datetime, now: datetime, *, dry_run: bool) -> Backfill:
    """Plan, then (unless ``dry_run``) replace the source's backfilled counts from ``since`` on."""
    plan = plan_backfill(store, source, since, now)
    if not dry_run:
        store.replace_backfilled_availability(source, since, plan.samples)
    return plan


def _history_times(store: MetricStore, source: str, since: datetime, until: datetime) -> Iterator[datetime]:
    cursor = None
    while True:
        page = store.history(source, start=since, end=until, limit=HISTORY_PAGE, cursor=cursor)
        yield from (entry.fetched_at for entry in page.entries)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
