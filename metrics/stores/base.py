"""The MetricStore contract: what every metric store does, whatever database is behind it.

Callers (poller, API, dashboards, realtime) depend on this module only, never on a concrete store.
Stores take a ``SourceSpec`` rather than the ``Source`` model so that the MongoDB store never
touches the relational database.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

JsonObject = dict[str, Any]


class StoreError(Exception):
    """The backing database failed (outage, timeout). Nothing stored was changed; retrying is safe."""


class PayloadError(ValueError):
    """The payload cannot be stored (not an object, too large, NaN/Infinity). Nothing stored was changed."""


@dataclass(frozen=True)
class SourceSpec:
    """What a store needs to know about a source."""

    slug: str
    # metric name -> dotted path into the payload (see metrics.extraction for the path syntax)
    metric_paths: Mapping[str, str] = field(default_factory=dict)
    # dotted paths left out of the hash and the diff (timestamps, counters that always move)
    volatile_paths: Sequence[str] = ()


@dataclass(frozen=True, init=False)
class FieldChange:
    path: str
    old: Any
    new: Any
    kind: str  # "changed" | "added" | "removed"

    def __init__(self, path: str, old: Any, new: Any, kind: str) -> None:
        # A changed poll builds one per changed field (dozens when a deploy rewrites a document). The
        # __init__ a frozen dataclass generates sets each field with object.__setattr__, about twice the
        # cost of filling the instance's dict, which is all those calls do here.
        fields = self.__dict__
        fields["path"] = path
        fields["old"] = old
        fields["new"] = new
        fields["kind"] = kind


# The JSON form of one change, key order included: what a history entry's diff column holds and what the
# WebSocket's update event sends (metrics.serialization.WEBSOCKET_FORM names these keys).
CHANGE_KEYS = ("path", "old", "new", "kind")


def diff_to_json(diff: Iterable[FieldChange]) -> list[JsonObject]:
    """A diff as the list of objects a history entry stores (``CHANGE_KEYS``); ``diff_from_json`` reads it back."""
    return [{"path": c.path, "old": c.old, "new": c.new, "kind": c.kind} for c in diff]


def diff_from_json(items: Iterable[Mapping[str, Any]]) -> list[FieldChange]:
    return [FieldChange(path=i["path"], old=i.get("old"), new=i.get("new"), kind=i["kind"]) for i in items]


@dataclass(frozen=True)
class RecordResult:
    changed: bool
    hash: str
    metrics: dict[str, float]
    sequence: int  # per-source change counter: +1 on every changed record
    diff: list[FieldChange]
    # The diff's JSON form, made once per change: the store hands over the list it wrote in the history entry,
    # and the WebSocket event sends that same list (``diff_json()``; None until then for a result made elsewhere).
    diff_dicts: list[JsonObject] | None = field(default=None, compare=False, repr=False)

    def diff_json(self) -> list[JsonObject]:
        """``diff_to_json(self.diff)``, made at most once: receivers share it and must not change it."""
        if self.diff_dicts is None:
            object.__setattr__(self, "diff_dicts", diff_to_json(self.diff))
        assert self.diff_dicts is not None
        return self.diff_dicts


@dataclass(frozen=True)
class Snapshot:
    source: str
    hash: str
    payload: JsonObject
    metrics: dict[str, float]
    fetched_at: datetime  # when this content was first fetched
    last_seen_at: datetime  # when it was last fetched unchanged
    sequence: int
    poll_meta: JsonObject


@dataclass(frozen=True)
class SnapshotHead:
    """A latest snapshot without its document (payload) and poll metadata: what ``latest_heads`` reads."""

    source: str
    hash: str
    metrics: dict[str, float]
    fetched_at: datetime
    last_seen_at: datetime
    sequence: int


@dataclass(frozen=True)
class HistoryEntry:
    id: str
    source: str
    hash: str
    payload: JsonObject
    metrics: dict[str, float]
    diff: list[FieldChange]
    fetched_at: datetime
    sequence: int


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None  # opaque; pass back to get the next (older) page


@dataclass(frozen=True)
class SeriesBucket:
    start: datetime
    min: float
    avg: float
    max: float
    count: int


@dataclass(frozen=True)
class SeriesKey:
    """One series of ``series_many``: a source's metric."""

    source: str
    metric: str


@dataclass(frozen=True)
class StoreStats:
    backend: str
    history_count: int
    latest_count: int
    oldest: datetime | None
    newest: datetime | None
    size_bytes: int | None


# --- availability: what the contract's availability methods take and return (docs/availability.md) ---


@dataclass(frozen=True)
class PollSample:
    """One poll's outcome: up (answered), or down with a short error kind; the latency when measured."""

    at: datetime
    up: bool
    latency_ms: float | None = None
    error_kind: str = ""  # "" when up; else [a-z0-9_]{1,40} ("timeout", "http_503", ...)


@dataclass(frozen=True)
class AvailabilitySpan:
    """Buckets of ``tier`` ("1m", "1h", "1d") whose start lies in [start, end)."""

    tier: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class AvailabilityBucket:
    """Poll outcomes counted in one bucket of a tier (or merged over a span, starting at its start)."""

    start: datetime
    tier: str
    polls: int
    up: int
    # Up polls per latency bin (metrics.availability.LATENCY_BOUNDS), sparse: absent bins are 0.
    latency: Mapping[int, int]
    # Down polls per error kind.
    errors: Mapping[str, int]

    @property
    def down(self) -> int:
        return self.polls - self.up


@dataclass(frozen=True)
class UptimeWindow:
    """Uptime and latency percentiles over one named window ("24h", "7d", "30d", "90d")."""

    window: str
    tier: str  # the bucket tier the window was read from
    start: datetime
    end: datetime
    polls: int
    up: int
    down: int
    uptime_percent: float | None  # None: no polls in the window
    # Of the up polls' latency, from merged histograms (error bound: metrics.availability.RELATIVE_ERROR).
    latency_p50_ms: float | None
    latency_p95_ms: float | None


@dataclass(frozen=True)
class AvailabilityDay:
    """One UTC day of a source, for day bars."""

    day: date
    polls: int
    up: int
    down: int
    uptime_percent: float | None  # None: no polls that day
    worst_error_kind: str | None  # the most frequent error kind of the day's down polls (ties: alphabetical)


class MetricStore(abc.ABC):
    backend: str

    @abc.abstractmethod
    def record(
        self, source: SourceSpec, payload: JsonObject, fetched_at: datetime, poll_meta: JsonObject | None = None
    ) -> RecordResult:
        """Store a fetched payload: a history entry only when its hash differs from the latest."""

    @abc.abstractmethod
    def latest(self, source: str) -> Snapshot | None: ...

    @abc.abstractmethod
    def latest_all(self) -> dict[str, Snapshot]:
        """Every source's latest snapshot in one round trip."""

    @abc.abstractmethod
    def latest_sources(self) -> list[str]:
        """Every source with a latest snapshot, in code point order (Python's ``sorted``), without reading their
        documents.

        For a reader that walks every source's snapshot (export) without holding them all: list the sources,
        then read them with ``latest_of`` a chunk at a time. A slug is at most 64 characters, so the list weighs
        little next to the documents. SQL: the unique ``source`` column only; MongoDB: a find projecting
        ``source`` on its unique index. Read-only: safe to retry after a StoreError.
        """

    @abc.abstractmethod
    def latest_heads(self) -> dict[str, SnapshotHead]:
        """Every source's latest snapshot without its document and poll metadata (``SnapshotHead``), keyed by
        source, in one round trip.

        For a reader of every source that wants its metrics, times or sequence only: the Prometheus collector
        on each scrape, the realtime watcher every few seconds (it then reads the snapshots whose sequence
        moved with ``latest_of``). Its cost follows the sources' count and their metrics, not their documents.
        SQL: the row's columns but ``payload`` and ``poll_meta``; MongoDB: a find projecting those fields.
        Not cached by ``CachedMetricStore`` (``last_seen_at`` moves on every poll). Read-only: safe to retry
        after a StoreError.
        """

    @abc.abstractmethod
    def latest_of(self, sources: Iterable[str]) -> dict[str, Snapshot]:
        """The latest snapshot of each of ``sources`` that has one, keyed by source; sources without a
        snapshot (unknown, never recorded, deleted) are left out, as ``latest_all`` would leave them out.

        For a caller that knows its subset (a team's overview, a status page's components): the cost
        follows the number of sources asked, not the number stored. Duplicates are asked once; no
        sources, no round trip. SQL: one statement with ``IN`` (a list longer than
        ``metrics.stores.arguments.LATEST_OF_CHUNK`` is read in chunks of that size, a statement each,
        to stay under SQLite's bound on parameters); MongoDB: one find with ``$in``. A single string
        instead of an iterable of them raises TypeError (it would read as its characters). Read-only:
        after a StoreError nothing changed and retrying is safe.
        """

    def cached_latest_of(self, sources: Iterable[str]) -> tuple[dict[str, Snapshot], list[str]]:
        """What ``latest_of(sources)`` can answer without reading the store, and the sources it cannot.

        For a caller that must not queue on the database thread for what a cache already holds (the
        WebSocket's snapshot on subscribe): a store has no cache in front, so it answers nothing and leaves
        every source; ``CachedMetricStore`` answers its hits (a source cached as having no snapshot is
        answered by its absence). Pass what is left to ``latest_of``. Never reads the store.
        """
        from metrics.stores.arguments import source_slugs

        return {}, source_slugs(sources)

    @abc.abstractmethod
    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        """Newest first. ``cursor`` comes from a previous page; a bad cursor raises ValueError."""

    @abc.abstractmethod
    def history_in_order(self, source: str, after: int | None = None, limit: int = 500) -> list[HistoryEntry]:
        """The source's entries with a sequence above ``after`` (all when None), lowest sequence first, at most
        ``limit`` (1..MAX_HISTORY_LIMIT, else ValueError; more is capped).

        For a reader that walks a whole history in change order (export) holding one page at a time: pass the
        last sequence of a page as ``after`` for the next; a page shorter than ``limit`` is the last. Keyset
        paging on the unique (source, sequence) index of both stores, so each page costs one indexed read
        whatever the history's length. Read-only: safe to retry after a StoreError.
        """

    @abc.abstractmethod
    def series(self, source: str, metric: str, start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
        """Buckets aligned to multiples of ``bucket`` since the epoch, oldest first, computed in the database."""

    @abc.abstractmethod
    def series_many(
        self, keys: Sequence[SeriesKey], start: datetime, end: datetime, bucket: timedelta, tier: str
    ) -> dict[SeriesKey, list[SeriesBucket]]:
        """Several series (source x metric) from one tier, in one round trip; a key without data maps to [].

        ``tier`` is "raw" (history) or a rollup tier ("1m", "1h", "1d"; ``metrics.rollups.tier_for_range``
        picks it from the range, so a long range never reads raw history). ``bucket`` must be a whole
        multiple of the tier's width, and buckets are aligned to it since the epoch like ``series``. On a
        rollup tier, samples newer than the tier's newest bucket of a key (not rolled up yet) are read from
        raw history in the same call, so a range ending now still shows its last minutes.

        SQL: one statement. MongoDB: one aggregate (on a rollup tier, the newest raw samples and, by
        ``$unionWith``, the buckets; a second find only when the rollups lag far behind, see
        ``metrics.stores.mongo.TAIL_WINDOW``). Bad input raises ValueError and reads nothing: an unknown tier, a bucket
        that is not a multiple of the tier, naive datetimes, ``end <= start``, more than
        MAX_SERIES_BUCKETS buckets, more than MAX_SERIES_KEYS keys. Read-only: safe to retry after a
        StoreError.
        """

    @abc.abstractmethod
    def prune(self, source: str | None, before: datetime) -> int:
        """Delete history older than ``before`` (never the latest snapshot); return how many entries went."""

    @abc.abstractmethod
    def delete_source(self, source: str) -> None:
        """Forget a source entirely (latest, history, rollups and availability)."""

    @abc.abstractmethod
    def stats(self) -> StoreStats: ...

    def ensure_schema(self) -> None:  # noqa: B027 - optional hook, a no-op where migrations do the work
        """Create indexes or other server-side structures idempotently."""

    # --- availability: poll outcomes counted per minute, hour and day (docs/availability.md) -----
    # Buckets are aligned to their width since the epoch (UTC). Counts written by the poller are
    # "live"; counts derived from older data by ``manage.py backfill_availability`` are kept apart
    # ("backfilled") so the backfill can be redone, and every read merges both.

    @abc.abstractmethod
    def record_poll_outcome(
        self, source: str, at: datetime, up: bool, latency_ms: float | None, error_kind: str = ""
    ) -> None:
        """Count one poll's outcome into its 1m, 1h and 1d buckets, in one round trip.

        An up poll has no error kind; a down poll has one matching ``[a-z0-9_]{1,40}``. A down poll's
        latency is checked but not kept: latency percentiles describe answered polls. Bad input
        (naive ``at``, negative or non-finite latency, a bad kind) raises ValueError and writes nothing.
        Not idempotent: after a StoreError the outcome may be counted in no tier, some tiers (MongoDB
        has no multi-document atomicity) or all (a connection lost at commit), so callers drop it
        rather than retry (a missing poll skews uptime less than a double count). Nothing else stored
        changes.
        """

    def record_poll_outcomes(self, outcomes: Sequence[tuple[str, PollSample]]) -> None:
        """Count many polls' outcomes (``(source, sample)`` pairs) as ``record_poll_outcome`` counts each.

        For a poller that batches its writes: a store may write them all in one round trip. Every
        sample is checked before anything is written (ValueError, nothing written); after a
        StoreError any subset may have been counted, as for one outcome, and callers drop the batch.
        """
        from metrics.availability import check_sample  # it builds on this module

        for _source, sample in outcomes:
            check_sample(sample)
        for source, sample in outcomes:
            self.record_poll_outcome(source, sample.at, sample.up, sample.latency_ms, sample.error_kind)

    @abc.abstractmethod
    def availability(
        self, source: str, tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> list[AvailabilityBucket]:
        """The tier's buckets holding any moment of [start, end), oldest first; empty buckets are absent.

        ``latency=False`` leaves the histograms empty, which spares the SQL store a row per latency bin.
        An unknown tier, naive datetimes, ``end <= start`` or more than MAX_AVAILABILITY_BUCKETS
        buckets raise ValueError. Read-only: safe to retry after a StoreError.
        """

    @abc.abstractmethod
    def availability_totals(self, source: str, spans: Sequence[AvailabilitySpan]) -> list[AvailabilityBucket]:
        """Each span's buckets merged into one (``start``/``tier`` of the span), in the spans' order.

        At most MAX_AVAILABILITY_SPANS spans, read together (SQL: one statement; MongoDB: one find per
        tier); bad spans raise ValueError like ``availability``. Read-only: safe to retry.
        """

    def availability_totals_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[AvailabilityBucket]:
        """Like ``availability_totals``, with the buckets of every one of ``sources`` merged (an objective
        over a group of sources). Both stores answer in as many round trips as for one source; this
        default asks source by source. At most MAX_AVAILABILITY_SOURCES distinct sources."""
        from metrics.availability import Counts, check_sources, check_spans

        checked = check_spans(spans)
        totals = [Counts() for _ in checked]
        for source in check_sources(sources):
            for counts, bucket in zip(totals, self.availability_totals(source, checked), strict=True):
                counts.merge(Counts(bucket.polls, bucket.up, Counter(bucket.latency), Counter(bucket.errors)))
        return [counts.bucket(span.start, span.tier) for counts, span in zip(totals, checked, strict=True)]

    def availability_counts_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[tuple[int, int]]:
        """(polls, up) per span for ``sources`` merged: ``availability_totals_of`` without histograms or
        error kinds, for the burn-rate rules that read it on every poll (the SQL store answers with one
        scan and conditional sums). Same checks and bounds. Read-only."""
        return [(total.polls, total.up) for total in self.availability_totals_of(sources, spans)]

    def availability_counts_by_source(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> dict[str, list[tuple[int, int]]]:
        """(polls, up) per span for each of ``sources`` apart (every one a key, zeros without polls): the
        burn-rate rules' read of an objective's settled windows, once a minute for all its sources. Both
        stores answer in one round trip (MongoDB: one find per tier); this default asks source by source.
        Same checks and bounds as ``availability_counts_of``. Read-only."""
        from metrics.availability import check_sources, check_spans

        checked = check_spans(spans)
        return {source: self.availability_counts_of([source], checked) for source in check_sources(sources)}

    def uptime_summary(
        self, source: str, now: datetime, windows: Sequence[str] = ("24h", "7d", "30d", "90d")
    ) -> dict[str, UptimeWindow]:
        """Uptime % and latency p50/p95 per window, from the buckets (metrics.availability.WINDOWS):
        one ``availability_totals`` call. An unknown window raises ValueError. Read-only."""
        from metrics.availability import summarize_windows, window_spans

        spans = window_spans(windows, now)
        totals = self.availability_totals(source, list(spans.values()))
        return summarize_windows(spans, totals)

    def daily_availability(self, source: str, now: datetime, days: int = 90) -> list[AvailabilityDay]:
        """One entry per UTC day for the last ``days`` days (today last, days without polls included),
        from the 1d buckets without their histograms: one round trip. Read-only."""
        from metrics.availability import day_series, days_span

        span = days_span(now, days)
        return day_series(self.availability(source, span.tier, span.start, span.end, latency=False), span)

    def availability_of_sources(
        self, sources: Sequence[str], tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> dict[str, list[AvailabilityBucket]]:
        """``availability`` of several sources at once, keyed by source (every source asked is a key, in
        the order asked). At most MAX_AVAILABILITY_SOURCES sources, else ValueError. Both stores answer in
        one round trip (this default asks once per source). Read-only."""
        from metrics.availability import check_sources

        return {
            source: self.availability(source, tier, start, end, latency=latency) for source in check_sources(sources)
        }

    def daily_availability_of_sources(
        self, sources: Sequence[str], now: datetime, days: int = 90
    ) -> dict[str, list[AvailabilityDay]]:
        """``daily_availability`` of several sources in one ``availability_of_sources`` call (status pages)."""
        from metrics.availability import day_series, days_span

        span = days_span(now, days)
        found = self.availability_of_sources(sources, span.tier, span.start, span.end, latency=False)
        return {source: day_series(buckets, span) for source, buckets in found.items()}

    @abc.abstractmethod
    def prune_availability(self, source: str | None, tier: str, before: datetime, *, dry_run: bool = False) -> int:
        """Delete the tier's buckets (live and backfilled) starting before ``before``, for one source or
        all; returns how many buckets went. The retention policies call it per tier. Idempotent:
        safe to retry after a StoreError (some buckets may already be gone). ``dry_run`` counts the
        buckets that would go and deletes nothing (one filter for both, so the count is what a real
        run deletes)."""

    @abc.abstractmethod
    def replace_backfilled_availability(self, source: str, since: datetime, samples: Iterable[PollSample]) -> int:
        """Replace the source's backfilled counts from ``since`` (a UTC midnight) on with ``samples``
        (all at or after ``since``); live counts are never touched. Returns how many samples were counted.

        Every sample is checked first: bad input raises ValueError and changes nothing. Idempotent:
        running it again with the same samples gives the same counts, so after a StoreError (SQL:
        nothing changed; MongoDB: the old backfilled counts may be gone, the new ones partly written)
        run it again.
        """

    @abc.abstractmethod
    def oldest_live_availability(self, source: str) -> dict[str, datetime | None]:
        """Per tier, where the source's oldest live bucket starts (None: no live counts). Read-only."""

    def defer_seen_writes(self) -> None:  # noqa: B027 - optional hook, a no-op where there is nothing to defer
        """Opt in (a poller): an unchanged record only reads, and its ``last_seen_at`` waits for ``flush``."""

    def flush(self) -> int:
        """Write what ``defer_seen_writes`` held back; how many sources it wrote."""
        return 0
