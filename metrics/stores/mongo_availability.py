"""The availability part of the MongoDB metric store (mixed into MongoMetricStore; contract: metrics.stores.base).

Collection ``metrics_availability``: one document per (source, tier, bucket start, origin), _id
``source|tier|start_ms|origin``, with counters at the top level: ``polls``, ``up``, ``l<bin>``
(up polls per latency bin) and ``e_<kind>`` (down polls per error kind; kinds are ``[a-z0-9_]``,
so no escaping). A poll is one ``bulk_write`` of three ``$inc`` upserts (one per tier): one round
trip, no read first, and ``$inc`` is atomic per document, so concurrent writers lose nothing. Two
writers upserting a missing bucket at once do not fail either: MongoDB 4.2+ retries an upsert that
lost the insert race on ``_id`` itself, and nx-27017 applies them one at a time (tested).
Counters are top-level rather than in sub-documents because nx-27017 stores a dotted ``$inc`` path
of an upserted document under a literal dotted key. Times are epoch milliseconds (``start_ms``),
as in the rollups.

Reads fetch the buckets (at most about 2,300 small documents for every window at once: 1,440 minute,
720 hour and 90 day buckets) and add them up in the process: on a real mongod a ``$group`` would do
the same work server-side, but on nx-27017 the aggregation takes ten times as long as the find.
The totals of several spans take one indexed find per tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from metrics.availability import (
    BACKFILL,
    LIVE,
    TIERS,
    Counts,
    bucket_start,
    check_backfill,
    check_sample,
    check_sources,
    check_span,
    check_spans,
    check_tier,
    count_samples,
    epoch_ms,
    from_epoch_ms,
    latency_bin,
)
from metrics.stores.arguments import aware_utc
from metrics.stores.base import AvailabilityBucket, AvailabilitySpan, PollSample, StoreError

if TYPE_CHECKING:
    from pymongo.database import Database

AVAILABILITY = "metrics_availability"
BATCH = 1000


class MongoAvailability:
    if TYPE_CHECKING:  # provided by MongoMetricStore
        db: Database[dict[str, Any]]

        def _ready(self) -> None: ...

    @property
    def availability_collection(self) -> Collection[dict[str, Any]]:
        return self.db[AVAILABILITY]

    def ensure_availability_indexes(self) -> list[str]:
        """Part of ensure_indexes(): reads of one source by tier and time; pruning one tier by time."""
        with availability_errors("ensure availability indexes"):
            return [
                self.availability_collection.create_index(
                    [("source", ASCENDING), ("tier", ASCENDING), ("start_ms", ASCENDING)],
                    name="availability_source_tier_start",
                ),
                self.availability_collection.create_index(
                    [("tier", ASCENDING), ("start_ms", ASCENDING)], name="availability_tier_start"
                ),
            ]

    # --- writes ------------------------------------------------------------------------------

    def record_poll_outcome(
        self, source: str, at: datetime, up: bool, latency_ms: float | None, error_kind: str = ""
    ) -> None:
        sample = check_sample(PollSample(at, up, latency_ms, error_kind))
        increments: dict[str, int] = {"polls": 1, "up": int(sample.up)}
        if not sample.up:
            increments[f"e_{sample.error_kind}"] = 1
        elif sample.latency_ms is not None:
            increments[f"l{latency_bin(sample.latency_ms)}"] = 1
        operations = []
        for tier in TIERS:
            start_ms = epoch_ms(bucket_start(sample.at, tier))
            operations.append(
                UpdateOne(
                    {"_id": _doc_id(source, tier, start_ms, LIVE)},
                    {"$inc": increments, "$setOnInsert": _identity(source, tier, start_ms, LIVE)},
                    upsert=True,
                )
            )
        with availability_errors(f"record the availability of {source}"):
            self._ready()
            self.availability_collection.bulk_write(operations, ordered=False)

    def replace_backfilled_availability(self, source: str, since: datetime, samples: Iterable[PollSample]) -> int:
        since, checked = check_backfill(since, samples)
        operations = []
        for (tier, start), counts in sorted(count_samples(checked).items()):
            start_ms = epoch_ms(start)
            doc_id = _doc_id(source, tier, start_ms, BACKFILL)
            # The _id repeated in the replacement: nx-27017 ignores the filter's _id when an upsert inserts.
            document = {"_id": doc_id, **_identity(source, tier, start_ms, BACKFILL), **_counters(counts)}
            operations.append(ReplaceOne({"_id": doc_id}, document, upsert=True))
        with availability_errors(f"backfill the availability of {source}"):
            self._ready()
            # Not atomic (no transaction): a failure between the two leaves fewer backfilled counts,
            # never more; running the backfill again puts them right.
            self.availability_collection.delete_many(
                {"source": source, "origin": BACKFILL, "start_ms": {"$gte": epoch_ms(since)}}
            )
            for offset in range(0, len(operations), BATCH):
                self.availability_collection.bulk_write(operations[offset : offset + BATCH], ordered=False)
        return len(checked)

    def prune_availability(self, source: str | None, tier: str, before: datetime, *, dry_run: bool = False) -> int:
        query: dict[str, Any] = {"tier": check_tier(tier), "start_ms": {"$lt": epoch_ms(aware_utc(before, "before"))}}
        if source is not None:
            query["source"] = source
        with availability_errors(f"prune the availability of {source or 'all sources'}"):
            buckets = {(doc["source"], doc["start_ms"]) for doc in self.availability_collection.find(query, _KEYS)}
            if not dry_run:
                self.availability_collection.delete_many(query)
        return len(buckets)

    # --- reads -------------------------------------------------------------------------------

    def availability(
        self, source: str, tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> list[AvailabilityBucket]:
        span = check_span(AvailabilitySpan(tier, start, end))
        with availability_errors(f"read the availability of {source}"):
            docs = list(
                self.availability_collection.find(
                    {"source": source, "tier": span.tier, "start_ms": _range_ms(span)}, sort=[("start_ms", ASCENDING)]
                )
            )
        buckets: dict[int, Counts] = {}
        for doc in docs:  # a live and a backfilled document of one bucket are added together
            buckets.setdefault(int(doc["start_ms"]), Counts()).merge(_counts(doc, latency=latency))
        return [counts.bucket(from_epoch_ms(start_ms), span.tier) for start_ms, counts in buckets.items()]

    def availability_of_sources(
        self, sources: Sequence[str], tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> dict[str, list[AvailabilityBucket]]:
        slugs = check_sources(sources)
        span = check_span(AvailabilitySpan(tier, start, end))
        if not slugs:
            return {}
        with availability_errors(f"read the availability of {len(slugs)} sources"):
            docs = list(
                self.availability_collection.find(
                    {"source": {"$in": slugs}, "tier": span.tier, "start_ms": _range_ms(span)},
                    sort=[("start_ms", ASCENDING)],
                )
            )
        found: dict[str, dict[int, Counts]] = {slug: {} for slug in slugs}
        for doc in docs:
            buckets = found.get(doc["source"])
            if buckets is not None:
                buckets.setdefault(int(doc["start_ms"]), Counts()).merge(_counts(doc, latency=latency))
        return {
            slug: [counts.bucket(from_epoch_ms(start_ms), span.tier) for start_ms, counts in sorted(buckets.items())]
            for slug, buckets in found.items()
        }

    def availability_totals(self, source: str, spans: Sequence[AvailabilitySpan]) -> list[AvailabilityBucket]:
        return self.availability_totals_of([source], spans)

    def availability_totals_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[AvailabilityBucket]:
        checked = check_spans(spans)
        sources = check_sources(sources)
        source = ", ".join(sources)
        # One indexed find per tier over the spans' union (7d lies within 30d): an $or of ranges
        # would be one round trip, but nx-27017 answers it by scanning the whole collection.
        ranges: dict[str, tuple[int, int]] = {}
        for span in checked:
            low, high = ranges.get(span.tier, (epoch_ms(span.start), epoch_ms(span.end)))
            ranges[span.tier] = (min(low, epoch_ms(span.start)), max(high, epoch_ms(span.end)))
        totals = [Counts() for _ in checked]
        bounds = [(span.tier, epoch_ms(span.start), epoch_ms(span.end)) for span in checked]
        with availability_errors(f"read the availability totals of {source}"):
            for tier, (low, high) in ranges.items():
                for doc in self.availability_collection.find(
                    {"source": {"$in": sources}, "tier": tier, "start_ms": {"$gte": low, "$lt": high}}
                ):
                    counts = _counts(doc)
                    start_ms = int(doc["start_ms"])
                    for total, (span_tier, span_low, span_high) in zip(totals, bounds, strict=True):
                        if span_tier == tier and span_low <= start_ms < span_high:
                            total.merge(counts)
        return [counts.bucket(span.start, span.tier) for counts, span in zip(totals, checked, strict=True)]

    def availability_counts_by_source(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> dict[str, list[tuple[int, int]]]:
        checked = check_spans(spans)
        sources = check_sources(sources)
        # As the totals: one indexed find per tier over the spans' union, only the two counters fetched.
        ranges: dict[str, tuple[int, int]] = {}
        for span in checked:
            low, high = ranges.get(span.tier, (epoch_ms(span.start), epoch_ms(span.end)))
            ranges[span.tier] = (min(low, epoch_ms(span.start)), max(high, epoch_ms(span.end)))
        bounds = [(span.tier, epoch_ms(span.start), epoch_ms(span.end)) for span in checked]
        found = {slug: [[0, 0] for _ in checked] for slug in sources}
        fields = {"source": 1, "start_ms": 1, "polls": 1, "up": 1, "_id": 0}
        with availability_errors(f"read the availability counts of {len(sources)} sources"):
            for tier, (low, high) in ranges.items():
                for doc in self.availability_collection.find(
                    {"source": {"$in": sources}, "tier": tier, "start_ms": {"$gte": low, "$lt": high}}, fields
                ):
                    sums = found.get(doc["source"])
                    if sums is None:
                        continue
                    start_ms = int(doc["start_ms"])
                    for pair, (span_tier, span_low, span_high) in zip(sums, bounds, strict=True):
                        if span_tier == tier and span_low <= start_ms < span_high:
                            pair[0] += int(doc.get("polls") or 0)
                            pair[1] += int(doc.get("up") or 0)
        return {slug: [(polls, up) for polls, up in sums] for slug, sums in found.items()}

    def oldest_live_availability(self, source: str) -> dict[str, datetime | None]:
        oldest: dict[str, datetime | None] = {}
        with availability_errors(f"read the availability of {source}"):
            for tier in TIERS:
                doc = self.availability_collection.find_one(
                    {"source": source, "tier": tier, "origin": LIVE}, {"start_ms": 1}, sort=[("start_ms", ASCENDING)]
                )
                oldest[tier] = None if doc is None else from_epoch_ms(doc["start_ms"])
        return oldest

    def _delete_availability(self, source: str) -> None:
        """Part of delete_source."""
        self.availability_collection.delete_many({"source": source})


_KEYS = {"source": 1, "start_ms": 1, "_id": 0}


@contextmanager
def availability_errors(what: str) -> Iterator[None]:
    """Driver failures become a StoreError, as everywhere in the MongoDB store."""
    try:
        yield
    except PyMongoError as exc:
        detail = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise StoreError(f"MongoDB metric store failed to {what}: {type(exc).__name__}: {detail}") from exc


def _doc_id(source: str, tier: str, start_ms: int, origin: str) -> str:
    return f"{source}|{tier}|{start_ms}|{origin}"


def _identity(source: str, tier: str, start_ms: int, origin: str) -> dict[str, Any]:
    return {"source": source, "tier": tier, "start_ms": start_ms, "origin": origin}


def _range_ms(span: AvailabilitySpan) -> dict[str, int]:
    return {"$gte": epoch_ms(span.start), "$lt": epoch_ms(span.end)}


def _counters(counts: Counts) -> dict[str, int]:
    fields = {"polls": counts.polls, "up": counts.up}
    fields.update({f"l{index}": n for index, n in counts.latency.items() if n})
    fields.update({f"e_{kind}": n for kind, n in counts.errors.items() if n})
    return fields


def _counts(doc: dict[str, Any], *, latency: bool = True) -> Counts:
    counts = Counts(polls=int(doc.get("polls") or 0), up=int(doc.get("up") or 0))
    for key, value in doc.items():
        if key.startswith("e_"):
            counts.errors[key[2:]] += int(value or 0)
        elif latency and key[:1] == "l" and key[1:].isdigit():
            counts.latency[int(key[1:])] += int(value or 0)
    return counts
