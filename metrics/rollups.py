"""Rollup arithmetic shared by both stores: buckets, aggregation, cascading and tier choice.

Three tiers, aligned to multiples of their width since the epoch (UTC): ``1m``, ``1h``, ``1d``.
Each bucket of one source's metric keeps count, min, max, sum (for the mean) and last.

- 1-minute buckets are computed from raw history entries; 1-hour buckets from 1-minute buckets;
  1-day buckets from 1-hour buckets. Cascading keeps coarse tiers recomputable after the raw
  entries (or finer rollups) behind them have been pruned.
- Recomputing a bucket from the same inputs gives the same numbers whatever order they come in
  (``math.fsum`` for the sum, the latest timestamp for ``last``), so rollups are idempotent: a
  store upserts buckets by (source, metric, tier, start).
- ``finest_covering_tier`` picks the finest tier that still holds data for the whole asked range;
  ``to_series`` turns rollup buckets into the ``SeriesBucket`` list that ``MetricStore.series``
  returns.
"""

from __future__ import annotations

import math
import operator as op
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from metrics.stores.base import HistoryEntry, SeriesBucket, Snapshot

TIER_SECONDS: dict[str, int] = {"1m": 60, "1h": 3600, "1d": 86400}
TIERS = tuple(TIER_SECONDS)  # finest first
SOURCE_TIER = {"1m": "raw", "1h": "1m", "1d": "1h"}  # what each tier is computed from
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Moment = TypeVar("Moment", datetime, int)


class RollupStore(Protocol):
    """What retention needs from a store beyond the MetricStore contract (both stores implement it)."""

    backend: str

    def write_rollups(self, buckets: Sequence[RollupBucket]) -> int:
        """Upsert buckets by (source, metric, tier, start); returns how many were written."""

    def add_rollups(self, buckets: Sequence[RollupBucket]) -> int:
        """Insert the buckets not stored yet by (source, metric, tier, start) and keep every stored one as it
        is (import: a stored bucket may hold samples the given one lacks); returns how many were added."""

    def rollups(
        self,
        source: str,
        tier: str,
        start: datetime | None = None,
        end: datetime | None = None,
        metric: str | None = None,
    ) -> list[RollupBucket]:
        """Buckets with ``start <= bucket.start < end``, ordered by (metric, start)."""

    def rollups_of(
        self,
        sources: Sequence[str],
        tier: str,
        metric: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        starts: Sequence[datetime] | None = None,
    ) -> list[RollupBucket]:
        """One metric's buckets of many sources in one read: ``start <= bucket.start < end`` and, given
        ``starts``, only buckets starting at one of those moments; ordered by (source, start)."""

    def good_minutes_of(
        self,
        sources: Sequence[str],
        metric: str,
        comparison: str,
        bound: float,
        spans: Sequence[tuple[datetime, datetime]],
    ) -> list[tuple[int, int]]:
        """(good, total) per [low, high) span, in the spans' order, of the sources' 1-minute buckets of ``metric``
        counted where they are stored: total = buckets, good = those whose mean meets ``comparison bound``
        (``meets``). The numbers of reading them out with ``rollups_of`` and counting, without reading out 43,200
        buckets a source for a 30-day objective."""

    def latest_rollup_start(self, source: str, tier: str) -> datetime | None:
        """Where the tier's newest bucket of the source starts: rollups resume there."""

    def prune_rollups(self, source: str | None, tier: str, before: datetime) -> int:
        """Delete the tier's buckets starting before ``before``; returns how many went."""

    def restore_history(self, entries: Sequence[HistoryEntry]) -> int:
        """Insert history entries as they are (import); ones already there by (source, sequence) are kept."""

    def restore_latest(self, snapshot: Snapshot) -> bool:
        """Set a source's latest snapshot as it is (import) only when it is newer than the stored one: a
        higher sequence, or the same sequence (and hash) seen later. Returns whether it was written; a
        stored snapshot as new or newer, or of another content at the same sequence, is kept."""


def replaces_latest(stored_sequence: int, stored_hash: str, stored_seen: datetime, imported: Snapshot) -> bool:
    """Whether an imported latest snapshot replaces the stored one (``RollupStore.restore_latest``, both stores).

    Only a newer one does: a higher sequence (the stored content has its own history entry, so nothing of it
    is lost), or the same content seen later (its ``last_seen_at`` and poll meta move forward). An older
    export never rewinds what the store has moved on to, and a different content at the same sequence (two
    stores that diverged) keeps the stored one: nothing stored is lost by an import.
    """
    if imported.sequence != stored_sequence:
        return imported.sequence > stored_sequence
    return imported.hash == stored_hash and imported.last_seen_at > stored_seen


@dataclass(frozen=True)
class RollupBucket:
    source: str
    metric: str
    tier: str
    start: datetime
    count: int
    min: float
    max: float
    sum: float
    last: float
    # When the last sample was fetched: decides ``last`` when buckets are merged, in any order.
    last_at: datetime

    @property
    def avg(self) -> float:
        return self.sum / self.count

    def key(self) -> tuple[str, str, str, datetime]:
        return (self.source, self.metric, self.tier, self.start)


# How a metric objective's minute is judged: its 1-minute mean against the bound (docs/objectives.md).
COMPARISONS: dict[str, Callable[[float, float], bool]] = {">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le}


def check_comparison(comparison: str) -> str:
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {' '.join(COMPARISONS)}, got {comparison!r}")
    return comparison


def meets(count: int, total: float, comparison: str, bound: float) -> bool:
    """Whether a bucket of ``count`` samples summing to ``total`` is a good minute: its mean ``comparison bound``."""
    return count > 0 and COMPARISONS[comparison](total / count, bound)


def count_good_minutes(
    buckets: Iterable[tuple[Moment, int, float]], comparison: str, bound: float, spans: Sequence[tuple[Moment, Moment]]
) -> list[tuple[int, int]]:
    """``RollupStore.good_minutes_of`` from (start, count, sum) of 1-minute buckets, for a store that counts them
    in the process (starts as datetimes or epoch milliseconds, as the spans)."""
    good = [0] * len(spans)
    total = [0] * len(spans)
    for start, count, value in buckets:
        ok = meets(count, value, comparison, bound)
        for index, (low, high) in enumerate(spans):
            if low <= start < high:
                total[index] += 1
                good[index] += ok
    return list(zip(good, total, strict=True))


def floor_time(moment: datetime, seconds: int) -> datetime:
    """The start of the ``seconds``-wide bucket holding ``moment`` (aligned since the epoch, UTC)."""
    offset = int((moment - EPOCH).total_seconds() // seconds) * seconds
    return EPOCH + timedelta(seconds=offset)


def bucket_start(moment: datetime, tier: str) -> datetime:
    return floor_time(moment, TIER_SECONDS[tier])


class _Accumulator:
    __slots__ = ("last", "last_at", "maximum", "minimum", "parts", "total")

    def __init__(self) -> None:
        self.total = 0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.parts: list[float] = []
        self.last = 0.0
        self.last_at: datetime | None = None

    def add(self, count: int, low: float, high: float, total: float, last: float, last_at: datetime) -> None:
        self.total += count
        self.minimum = min(self.minimum, low)
        self.maximum = max(self.maximum, high)
        self.parts.append(total)
        # Ties on the timestamp keep the larger value, so the result never depends on input order.
        if self.last_at is None or last_at > self.last_at or (last_at == self.last_at and last > self.last):
            self.last, self.last_at = last, last_at


def _sum(parts: Sequence[float]) -> float | None:
    """The exact sum, or None when it is beyond a float (two samples of 1e308): no bucket, as for a NaN sample.

    ``math.fsum`` raises OverflowError there; raised, it failed the source's whole rollup run, and every
    later one (each resumes at that minute), so its raw history was never pruned again."""
    try:
        return math.fsum(parts)
    except OverflowError:
        return None


def _finish(source: str, tier: str, groups: dict[tuple[str, datetime], _Accumulator]) -> list[RollupBucket]:
    result = []
    for (metric, start), acc in groups.items():
        assert acc.last_at is not None
        total = _sum(acc.parts)
        if total is None:
            continue
        result.append(
            RollupBucket(
                source=source,
                metric=metric,
                tier=tier,
                start=start,
                count=acc.total,
                min=acc.minimum,
                max=acc.maximum,
                sum=total,
                last=acc.last,
                last_at=acc.last_at,
            )
        )
    result.sort(key=lambda b: (b.metric, b.start))
    return result


def aggregate_samples(source: str, samples: Iterable[tuple[datetime, Mapping[str, float]]]) -> list[RollupBucket]:
    """1-minute buckets from raw samples: (fetched_at, {metric: value}) in any order."""
    groups: dict[tuple[str, datetime], _Accumulator] = {}
    for fetched_at, metrics in samples:
        start = bucket_start(fetched_at, "1m")
        for metric, raw_value in metrics.items():
            value = float(raw_value)
            if not math.isfinite(value):
                continue
            acc = groups.get((metric, start))
            if acc is None:
                acc = groups[(metric, start)] = _Accumulator()
            acc.add(1, value, value, value, value, fetched_at)
    return _finish(source, "1m", groups)


def cascade(buckets: Iterable[RollupBucket], tier: str) -> list[RollupBucket]:
    """Buckets of ``tier`` from buckets of the tier below it (1m -> 1h, 1h -> 1d)."""
    below = SOURCE_TIER[tier]
    groups: dict[tuple[str, datetime], _Accumulator] = {}
    source = ""
    for bucket in buckets:
        if bucket.tier != below:
            raise ValueError(f"{tier} buckets are computed from {below} buckets, got {bucket.tier}")
        source = bucket.source
        start = bucket_start(bucket.start, tier)
        acc = groups.get((bucket.metric, start))
        if acc is None:
            acc = groups[(bucket.metric, start)] = _Accumulator()
        acc.add(bucket.count, bucket.min, bucket.max, bucket.sum, bucket.last, bucket.last_at)
    return _finish(source, tier, groups)


def finest_covering_tier(start: datetime, oldest: Mapping[str, datetime | None]) -> str:
    """The finest tier ("raw", "1m", "1h", "1d") whose data reaches back to ``start``.

    ``oldest`` maps each tier to where its oldest data starts for the metric (the oldest raw
    sample, the oldest bucket's start; None: no data). Decided by the data rather than by the
    retention policy, so a store needs no relational lookup, and rollups not computed yet are
    never preferred to raw data that is still there.

    A coarse bucket starts before its first sample (a day bucket at midnight for data from 10:00),
    so where the data really begins is found from the coarsest tier down: a finer tier whose oldest
    data falls inside that coarse bucket says more precisely where it begins; a finer tier that
    starts in a later bucket was pruned and cannot say. A range starting before all data is
    treated as starting where the data does (a young source gets its finest tier).
    """
    present = {tier: moment for tier, moment in oldest.items() if moment is not None}
    if not present:
        return "raw"
    order = ("raw", *TIERS)  # finest first
    earliest: datetime | None = None
    width = 0
    for tier in reversed(order):
        moment = present.get(tier)
        if moment is None:
            continue
        if earliest is None or moment < earliest or floor_time(moment, width) <= earliest:
            earliest = moment
            width = TIER_SECONDS.get(tier, 1)
    assert earliest is not None
    effective_start = max(start, earliest)
    for tier in order:
        moment = present.get(tier)
        if moment is not None and moment <= effective_start:
            return tier
    return "raw"  # unreachable: the tier that set ``earliest`` qualifies


def to_series(buckets: Iterable[RollupBucket], start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
    """Rollup buckets regrouped into ``bucket``-wide buckets (aligned since the epoch), oldest first.

    A rollup bucket belongs to the asked bucket holding its start; one coarser than ``bucket``
    lands whole in one asked bucket (the finest data there is for that time).
    """
    width = int(bucket.total_seconds())
    if width <= 0:
        raise ValueError("bucket must be a positive duration")
    groups: dict[datetime, _Accumulator] = {}
    for rollup in buckets:
        tier_start = bucket_start(start, rollup.tier)
        if rollup.start < tier_start or rollup.start >= end:
            continue
        key = floor_time(rollup.start, width)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = _Accumulator()
        acc.add(rollup.count, rollup.min, rollup.max, rollup.sum, rollup.last, rollup.last_at)
    sums = {key: _sum(acc.parts) for key, acc in groups.items()}
    return [
        SeriesBucket(start=key, min=acc.minimum, avg=total / acc.total, max=acc.maximum, count=acc.total)
        for key, acc in sorted(groups.items())
        if acc.total and (total := sums[key]) is not None
    ]


# --- tier choice for series_many (boards, the region comparison) -------------------------------
# The coarsest range each tier answers; past the last one, days. Chosen from the range alone, so a
# 90-day chart reads 1-day buckets (plus the minutes not rolled up yet), never 90 days of raw history.
TIER_FOR_RANGE: tuple[tuple[timedelta, str], ...] = (
    (timedelta(hours=6), "raw"),
    (timedelta(days=3), "1m"),
    (timedelta(days=45), "1h"),
)
TIER_WIDTH: dict[str, int] = {"raw": 1, **TIER_SECONDS}
# Bucket widths a chart may get: round numbers, so buckets line up across panels and page loads.
NICE_WIDTHS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


def tier_for_range(start: datetime, end: datetime) -> str:
    """The tier a chart of [start, end) reads: raw up to 6 h, 1m up to 3 d, 1h up to 45 d, else 1d."""
    span = end - start
    for longest, tier in TIER_FOR_RANGE:
        if span <= longest:
            return tier
    return "1d"


def bucket_for_range(start: datetime, end: datetime, tier: str, max_points: int) -> timedelta:
    """The narrowest round bucket, a multiple of the tier's width, giving at most ``max_points`` buckets."""
    span = max(1.0, (end - start).total_seconds())
    tier_width = TIER_WIDTH[tier]
    for width in NICE_WIDTHS:
        if width % tier_width == 0 and span / width <= max_points:
            return timedelta(seconds=width)
    return timedelta(seconds=math.ceil(span / max_points / 86400) * 86400)


def series_from_parts(parts: Iterable[tuple[datetime, int, float, float, float]], width: int) -> list[SeriesBucket]:
    """``series_many``'s buckets from (start or fetched_at, count, min, max, sum) rows: rollup buckets
    and the raw samples after them, grouped into ``width``-second buckets aligned since the epoch."""
    groups: dict[datetime, list[float]] = {}
    for at, count, low, high, total in parts:
        key = floor_time(at, width)
        acc = groups.get(key)
        if acc is None:
            groups[key] = [count, low, high, total]
        else:
            acc[0] += count
            acc[1] = min(acc[1], low)
            acc[2] = max(acc[2], high)
            acc[3] += total
    # A sum beyond a float (inf) leaves its bucket out, as ``to_series`` does.
    return [
        SeriesBucket(start=key, min=acc[1], avg=acc[3] / acc[0], max=acc[2], count=int(acc[0]))
        for key, acc in sorted(groups.items())
        if acc[0] and math.isfinite(acc[3])
    ]
