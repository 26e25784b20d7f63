"""The availability windows a burn-rate rule judges a poll on, without reading every window on every poll.

A poll's windows (``metrics.slo_windows``) end with the poll's minute, so the poll is counted
(``alerts.measured``). Each window is cut where the poll's previous minute begins:

- **settled**: everything before the previous minute, as the window's own buckets up to the bucket
  holding the previous minute (1 d and 3 d: hour buckets up to that hour) and, for the hour windows,
  the minute buckets of that hour before the previous minute (only at minutes 0 and 59 of the hour is
  this part not empty: the hour bucket the window reaches into is then still being counted). Read ONCE
  per minute and objective for every enabled source the objective covers
  (``availability_counts_by_source``, MAX_AVAILABILITY_SOURCES a statement), by the first poll of the
  minute, and kept in this process for the other polls of that minute: at 1,000 sources polled once a
  minute, one or two statements a minute instead of 1,000 reads of hundreds of buckets;
- **fresh**: the previous and the current minute, from this process's own count of its polls
  (``alerts.recent_polls``): no statement per poll. When this process cannot vouch for those minutes
  (its first two minutes, a late poll) they are read from the store, one small statement, as before.

What this changes against one whole read per poll: a bucket is settled once the next minute has begun, so by the
time a poll of minute M reads it (at M or later) every poll that started in it has been counted, except
one that took over a minute (long timeouts and retries) or sat in a poller's batch across the boundary
(``HealthBatch.max_age``, a second); and the previous and current minute hold exactly this process's
polls of the source, counted before they are judged (not a second later, as a poller's batch writes
them). The difference: a poll of the source by another process in those two minutes (a lease that
moved, a manual poll) is in the store only, so it reaches the windows with the settled read of the
minute after next. Late counts are at most two minutes late, never counted twice and never taken back
(a count once seen is in every later read; but for a count the store failed to write, which leaves
the windows when its minute settles). An hour bucket is the sum of its minute buckets (every
count adds to both in one statement), so the minute part stands in for it exactly; the minute buckets
of the last hour are always kept (retention keeps them at least a day). tests/alerts/test_burn_windows.py
checks the counts poll by poll, across minute and hour boundaries, against one whole read per poll.
A poll of an older minute than the batch in hand (a late or replayed one) reads its own settled part.
Metric objectives read their rollups per rule as before (``alerts.measured``).

The batch lives on the objective instance of the rule snapshot (``alerts.rule_cache``), so a saved
rule or objective (a new snapshot) starts afresh; one lock per objective makes one thread read it
while the others of the same minute wait for it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts import recent_polls
from metrics import slo
from metrics.availability import MAX_AVAILABILITY_SOURCES, bucket_start
from metrics.slo_windows import slo_spans, split_spans
from metrics.stores.base import AvailabilitySpan, MetricStore

MINUTE = timedelta(minutes=1)
ATTRIBUTE = "_burn_settled"  # where the batch hangs on the objective instance

_lock = threading.Lock()  # guards creating a holder; each holder's own lock guards its batch


@dataclass
class _Settled:
    """One objective's settled counts of one minute: cut spans -> slug -> (polls, up) per distinct settled span."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    minute: datetime | None = None
    counts: dict[tuple[AvailabilitySpan, ...], dict[str, list[tuple[int, int]]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Cut:
    """The windows of every poll of one minute, cut where its previous minute begins (the same for each poll)."""

    names: tuple[str, ...]
    spans: tuple[AvailabilitySpan, ...]  # the distinct settled spans: what the batch reads
    settled: tuple[tuple[int, ...], ...]  # per name: the indexes in ``spans`` of its settled parts
    fresh: tuple[tuple[bool, bool], ...]  # per name: whether the previous and the current minute are in it

    @property
    def reads_fresh(self) -> bool:
        return any(previous or current for previous, current in self.fresh)


def availability_windows(
    store: MetricStore, objective: Any, source: Any, at: datetime, names: Sequence[str]
) -> dict[str, slo.Counts]:
    """Good (answered) and total polls of ``source`` in each named window of its poll at ``at``.

    The same counts as ``metrics.slo_windows.window_counts(store, slug, at + 1 minute, names)``, put
    together as described above: a share of one batched read per minute, and this process's own count
    of the last two minutes (read from the store when it cannot vouch for them).
    """
    minute = bucket_start(at, "1m")
    cut = _cut(minute, tuple(names))
    settled = _settled(store, objective, source.slug, minute, cut.spans)
    fresh: Sequence[tuple[int, int]] = ((0, 0), (0, 0))
    if cut.reads_fresh:
        own = recent_polls.minutes(source.slug, minute)
        # When this process cannot vouch for them: the store's, one small statement.
        fresh = own if own is not None else store.availability_counts_of([source.slug], _last_two(minute))
    windows: dict[str, slo.Counts] = {}
    for name, parts, in_fresh in zip(cut.names, cut.settled, cut.fresh, strict=True):
        polls = up = 0
        for index in parts:
            polls, up = polls + settled[index][0], up + settled[index][1]
        for (more_polls, more_up), inside in zip(fresh, in_fresh, strict=True):
            if inside:
                polls, up = polls + more_polls, up + more_up
        windows[name] = slo.Counts(good=up, total=polls)
    return windows


@functools.lru_cache(maxsize=64)
def _cut(minute: datetime, names: tuple[str, ...]) -> _Cut:
    """Each window of a poll of ``minute`` as its settled parts and the fresh minutes it holds (cached: the same
    for every poll of the minute, and callers only read it).

    A window of ``tier`` buckets ending where the bucket holding the end of ``minute`` starts: its own buckets
    before the one holding the previous minute, the minute buckets from there to the previous minute, and the
    previous and current minute where they lie in it. Together exactly the window's polls (a bucket of a
    coarser tier is the sum of its minute buckets).
    """
    spans = slo_spans(minute + MINUTE, names)  # the end of the poll's minute: this poll is counted
    previous = minute - MINUTE
    before, after = split_spans(spans, previous)  # the buckets before the one holding the previous minute, the rest
    distinct: dict[AvailabilitySpan, int] = {}
    settled: list[tuple[int, ...]] = []
    fresh: list[tuple[bool, bool]] = []
    for name, span in spans.items():
        parts = [before[name]] if name in before else []
        rest = after.get(name)
        if rest is not None and rest.tier != "1m" and rest.start < previous:  # its minutes before the fresh two
            parts.append(AvailabilitySpan("1m", rest.start, min(previous, rest.end)))
        settled.append(tuple(distinct.setdefault(part, len(distinct)) for part in parts))
        fresh.append((span.start <= previous < span.end, span.start <= minute < span.end))
    return _Cut(tuple(spans), tuple(distinct), tuple(settled), tuple(fresh))


@functools.lru_cache(maxsize=4)
def _last_two(minute: datetime) -> list[AvailabilitySpan]:
    return [AvailabilitySpan("1m", minute - MINUTE, minute), AvailabilitySpan("1m", minute, minute + MINUTE)]


def _settled(
    store: MetricStore, objective: Any, slug: str, minute: datetime, spans: tuple[AvailabilitySpan, ...]
) -> list[tuple[int, int]]:
    """``slug``'s counts of the settled ``spans``: from the objective's batch of ``minute``, read when missing."""
    if not spans:
        return []
    holder = _holder(objective)
    with holder.lock:  # held through the batch read: the other threads of the minute wait for it, not read it again
        # A poll of an older minute than the batch (late, or replayed) reads its own, and the batch stays.
        late = holder.minute is not None and minute < holder.minute
        if not late:
            if holder.minute != minute:
                holder.minute, holder.counts = minute, {}  # the previous minute's batches are done with
            batch = holder.counts.get(spans)
            if batch is None:
                batch = holder.counts[spans] = _read_batch(store, _covered_slugs(objective) | {slug}, list(spans))
            found = batch.get(slug)
            if found is not None:
                return found
    # Not in the batch (covered since it was read, e.g. a source tagged meanwhile), or late: its own read.
    counts = store.availability_counts_of([slug], list(spans))
    if not late:
        with holder.lock:
            if holder.minute == minute and spans in holder.counts:
                holder.counts[spans][slug] = counts
    return counts


def _read_batch(store: MetricStore, slugs: set[str], spans: list[AvailabilitySpan]) -> dict[str, list[tuple[int, int]]]:
    ordered = sorted(slugs)
    batch: dict[str, list[tuple[int, int]]] = {}
    for offset in range(0, len(ordered), MAX_AVAILABILITY_SOURCES):
        batch.update(store.availability_counts_by_source(ordered[offset : offset + MAX_AVAILABILITY_SOURCES], spans))
    return batch


def _covered_slugs(objective: Any) -> set[str]:
    """The enabled sources the objective covers (chosen ones come from the snapshot's prefetch: no query)."""
    return {source.slug for source in objective.covered_sources() if source.enabled}


def _holder(objective: Any) -> _Settled:
    with _lock:
        holder: _Settled | None = objective.__dict__.get(ATTRIBUTE)
        if holder is None:
            holder = objective.__dict__[ATTRIBUTE] = _Settled()
        return holder
