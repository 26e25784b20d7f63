"""The availability windows a burn-rate rule judges a poll on, without reading every window on every poll.

A poll's windows (``metrics.slo_windows``) end with the poll's minute, so the poll is counted
(``alerts.measured``). Each window is cut one minute before the poll's minute
(``metrics.slo_windows.split_spans``):

- **settled**: the buckets before the previous minute (minute windows) or before the hour holding it
  (1 d and 3 d). Read ONCE per minute and objective for every enabled source the objective covers
  (``availability_counts_by_source``, MAX_AVAILABILITY_SOURCES a statement), by the first poll of the
  minute, and kept in this process for the other polls of that minute: at 1,000 sources polled once a
  minute, one or two statements a minute instead of 1,000 reads of hundreds of buckets;
- **fresh**: the previous and the current minute (and the hour bucket the 1 d and 3 d windows reach
  into at minutes 0 and 59), read for the polled source on every poll, one small statement: the poll,
  and every poll counted meanwhile by any poller process, is in its windows as before.

Why reusing the settled part for a minute changes no verdict: a bucket is settled once the next minute
has begun, so by the time a poll of minute M reads it (at M or later) every poll that started in it
has been counted, except one that took over a minute (long timeouts and retries) or sat in a poller's
batch across the boundary (``HealthBatch.max_age``, a second). Such a count is not in the windows until
the next minute's read: late by at most a minute, never counted twice and never taken back (a count
once seen is in every later read). Everything else is exactly what one read of the whole windows per
poll returns (tests/alerts/test_burn_windows.py checks it poll by poll across minute and hour
boundaries). A poll of an older minute than the batch in hand (a late or replayed one) reads its own
windows whole. Metric objectives read their rollups per rule as before (``alerts.measured``).

The batch lives on the objective instance of the rule snapshot (``alerts.rule_cache``), so a saved
rule or objective (a new snapshot) starts afresh; one lock per objective makes one thread read it
while the others of the same minute wait for it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from metrics import slo
from metrics.availability import MAX_AVAILABILITY_SOURCES, bucket_start
from metrics.slo_windows import slo_spans, split_spans
from metrics.stores.base import AvailabilitySpan, MetricStore

MINUTE = timedelta(minutes=1)
SpansByName = Mapping[str, AvailabilitySpan]
ATTRIBUTE = "_burn_settled"  # where the batch hangs on the objective instance

_lock = threading.Lock()  # guards creating a holder; each holder's own lock guards its batch


@dataclass
class _Settled:
    """One objective's settled window counts of one minute: names of windows -> slug -> (polls, up) per window."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    minute: datetime | None = None
    counts: dict[tuple[str, ...], dict[str, list[tuple[int, int]]]] = field(default_factory=dict)


def availability_windows(
    store: MetricStore, objective: Any, source: Any, at: datetime, names: Sequence[str]
) -> dict[str, slo.Counts]:
    """Good (answered) and total polls of ``source`` in each named window of its poll at ``at``.

    The same counts as ``metrics.slo_windows.window_counts(store, slug, at + 1 minute, names)``, read
    as described above: a share of one batched read per minute, and one small read per poll.
    """
    minute = bucket_start(at, "1m")
    spans, settled_spans, fresh_spans, fresh_reads = _cut(minute, tuple(names))
    settled = _settled(store, objective, source.slug, minute, settled_spans)
    fresh: dict[AvailabilitySpan, tuple[int, int]] = {}
    if fresh_reads:  # none only for hour windows alone, between minutes 1 and 58
        fresh = dict(zip(fresh_reads, store.availability_counts_of([source.slug], fresh_reads), strict=True))
    windows: dict[str, slo.Counts] = {}
    for name in spans:
        polls, up = settled.get(name, (0, 0))
        if name in fresh_spans:
            more_polls, more_up = fresh[fresh_spans[name]]
            polls, up = polls + more_polls, up + more_up
        windows[name] = slo.Counts(good=up, total=polls)
    return windows


@functools.lru_cache(maxsize=64)
def _cut(
    minute: datetime, names: tuple[str, ...]
) -> tuple[tuple[str, ...], SpansByName, SpansByName, tuple[AvailabilitySpan, ...]]:
    """The windows of a poll of ``minute`` and their two parts: the same for every poll of the minute, so
    worked out once (cached: callers only read them). The names, the settled and fresh spans by name, and the
    distinct fresh spans (what a poll reads)."""
    spans = slo_spans(minute + MINUTE, names)  # the end of the poll's minute: this poll is counted
    settled, fresh = split_spans(spans, minute - MINUTE)
    return tuple(spans), settled, fresh, tuple(dict.fromkeys(fresh.values()))  # minute windows share one, hours another


def _settled(
    store: MetricStore, objective: Any, slug: str, minute: datetime, spans: Mapping[str, AvailabilitySpan]
) -> dict[str, tuple[int, int]]:
    """``slug``'s counts of the settled spans: from the objective's batch of ``minute``, read when missing."""
    if not spans:
        return {}
    names = tuple(spans)
    wanted = list(spans.values())
    holder = _holder(objective)
    with holder.lock:  # held through the batch read: the other threads of the minute wait for it, not read it again
        # A poll of an older minute than the batch (late, or replayed) reads its own, and the batch stays.
        late = holder.minute is not None and minute < holder.minute
        if not late:
            if holder.minute != minute:
                holder.minute, holder.counts = minute, {}  # the previous minute's batches are done with
            batch = holder.counts.get(names)
            if batch is None:
                batch = holder.counts[names] = _read_batch(store, _covered_slugs(objective) | {slug}, wanted)
            found = batch.get(slug)
            if found is not None:
                return dict(zip(names, found, strict=True))
    # Not in the batch (covered since it was read, e.g. a source tagged meanwhile), or late: its own read.
    counts = store.availability_counts_of([slug], wanted)
    if not late:
        with holder.lock:
            if holder.minute == minute and names in holder.counts:
                holder.counts[names][slug] = counts
    return dict(zip(names, counts, strict=True))


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
