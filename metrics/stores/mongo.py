"""The MongoDB metric store, on the official pymongo driver.

Collections:
- ``metrics_latest``: one document per source (unique index on ``source``).
- ``metrics_history``: one document per change; unique (source, sequence), compound
  (source, fetched_at desc, sequence desc) for paging, and a TTL index on ``fetched_at`` that
  follows the retention policies, else METRICS_HISTORY_RETENTION_DAYS (metrics.lifecycle.ttl).
Indexes are made by ``ensure_schema()`` (``manage.py ensure_indexes``, or once per process on
first use when MONGODB_ENSURE_INDEXES is on), never per request.

Consistency without transactions (a standalone mongod has none, and a change must not cost a
multi-document transaction):
1. The latest document is the source of truth and moves by compare-and-set: the update matches
   the ``sequence`` that was read, so of two concurrent writers exactly one wins and the other
   re-reads and re-diffs against what actually won. A single-document update is atomic, so an
   outage mid-way leaves latest either old or new, never half-written.
2. The winning update also stores the change's diff and sets ``history_pending``. The history
   entry is then upserted by (source, sequence) with ``$setOnInsert`` (idempotent) and the flag
   cleared.
3. If the process dies between 1 and 2, the latest document still carries everything its history
   entry needs; the next ``record`` of that source sees ``history_pending`` and writes the missing
   entry first (repair on next write). History is never ahead of latest.
Payloads and diffs are stored as canonical JSON text, so any JSON key (``$ref``, ``a.b``) is
storable; metric names are escaped the way the MongoDB manual recommends.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from pymongo import ASCENDING, DESCENDING, MongoClient, ReplaceOne, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError, PyMongoError

from metrics.extraction import (
    PreparedPayload,
    canonical_json,
    diff_payloads,
    prepare,
    validate_poll_meta,
)
from metrics.rollups import (
    TIERS,
    RollupBucket,
    bucket_start,
    check_comparison,
    count_good_minutes,
    finest_covering_tier,
    replaces_latest,
    series_from_parts,
    to_series,
)
from metrics.stores.arguments import (
    aware_utc,
    bucket_seconds,
    decode_cursor,
    encode_cursor,
    history_limit,
    series_many_args,
    source_slugs,
)
from metrics.stores.base import (
    HistoryEntry,
    HistoryPage,
    JsonObject,
    MetricStore,
    PayloadError,
    RecordResult,
    SeriesBucket,
    SeriesKey,
    Snapshot,
    SnapshotHead,
    SourceSpec,
    StoreError,
    StoreStats,
    diff_from_json,
    diff_to_json,
)
from metrics.stores.mongo_availability import MongoAvailability

logger = logging.getLogger("metrics.store")

LATEST = "metrics_latest"
HISTORY = "metrics_history"
ROLLUPS = "metrics_rollups"
# Small documents of store-wide state: the history TTL the retention policies chose (metrics.lifecycle.ttl).
STORE_SETTINGS = "metrics_store_settings"
HISTORY_PAGE_INDEX = [("source", ASCENDING), ("fetched_at", DESCENDING), ("sequence", DESCENDING)]
# How long record() keeps retrying a lost compare-and-set: only reached if many writers hammer one source.
CAS_DEADLINE_SECONDS = 10.0
# BSON documents stop at 16 MiB; keep room for the metrics and diff stored beside the payload.
MAX_DOCUMENT_PAYLOAD_BYTES = 7 * 1024 * 1024
# The batch size of the reads behind a chart (series, series_many, rollups, latest_all): everything in the
# first reply. Without one the server answers 101 documents and the driver sends a getMore per further
# batch (nx-27017: 101 documents each, so a 30-day panel of 6 sources cost ~44 round trips). The server
# still ends a batch at 16 MiB, far above what a chart's projected documents weigh.
ONE_BATCH = 1 << 30
# What series_many reads of a raw sample not rolled up yet. The whole metrics sub-document: nx-27017 answers
# a dotted projection with flat "metrics.x" keys.
TAIL_FIELDS = {"_id": 0, "source": 1, "epoch_ms": 1, "metrics": 1}
# What series_many reads of a source's newest history entry before its window of raw samples: when it was
# fetched, and "sequence", which tells it apart from the samples and the buckets of the same reply.
NEWEST_BEFORE_FIELDS = {"_id": 0, "source": 1, "epoch_ms": 1, "sequence": 1}
# series_many on a rollup tier reads the raw samples the rollups have not reached yet in the same command as
# the buckets, so it cannot start them where the buckets end: it reads the last TAIL_WINDOW before the
# range's end (or now, if sooner), well beyond the lag of the poller's rollup step (every
# RETENTION_ROLLUP_INTERVAL, 60 s by default), and each source's newest entry before that window. Only
# when that entry is newer than the source's buckets (rollups stopped or run from cron, a young source)
# does a second find read the gap: a longer lag costs a round trip, never a sample.
TAIL_WINDOW = timedelta(minutes=15)


def metric_key(name: str) -> str:
    """A metric name usable as a field name: '.' and a leading '$' would be read as paths/operators."""
    return name.replace("\\", "\\\\").replace(".", "\uff0e").replace("$", "\uff04")


def metric_name(key: str) -> str:
    return key.replace("\uff04", "$").replace("\uff0e", ".").replace("\\\\", "\\")


def to_millis(value: datetime) -> datetime:
    """BSON dates keep milliseconds; truncate first so what record() returns is what reads return."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def epoch_ms(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))


def write_concern_w(value: str) -> int | str:
    """MONGODB_WRITE_CONCERN as pymongo's ``w``: a node count ("1") or a tag/"majority"."""
    value = value.strip()
    return int(value) if value.isdigit() else value


class MongoMetricStore(MongoAvailability, MetricStore):  # availability: metrics.stores.mongo_availability
    backend = "mongodb"
    # BSON dates keep milliseconds; the read cache truncates the times it patches in the same way.
    time_resolution_us = 1000

    def __init__(
        self,
        client: MongoClient[dict[str, Any]],
        database: str,
        *,
        max_payload_bytes: int | None = None,
        retention_days: int | None = None,
        ensure_schema_on_first_use: bool = False,
    ) -> None:
        self.client = client
        self.db: Database[dict[str, Any]] = client[database]
        self.latest_collection: Collection[dict[str, Any]] = self.db[LATEST]
        self.history_collection: Collection[dict[str, Any]] = self.db[HISTORY]
        self.rollup_collection: Collection[dict[str, Any]] = self.db[ROLLUPS]
        self.settings_collection: Collection[dict[str, Any]] = self.db[STORE_SETTINGS]
        self._max_payload_bytes = max_payload_bytes
        self._retention_days = retention_days
        self._schema_pending = ensure_schema_on_first_use
        self._schema_lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> MongoMetricStore:
        if not settings.MONGODB_URL:
            raise StoreError("MONGODB_URL is not set")
        client: MongoClient[dict[str, Any]] = MongoClient(
            settings.MONGODB_URL,
            maxPoolSize=settings.MONGODB_MAX_POOL_SIZE,
            serverSelectionTimeoutMS=settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
            connectTimeoutMS=settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
            socketTimeoutMS=settings.MONGODB_SOCKET_TIMEOUT_MS,
            w=write_concern_w(settings.MONGODB_WRITE_CONCERN),
            tz_aware=True,
            appname="devops-insights",
            connect=False,  # no I/O at import or build time; the first operation connects
        )
        return cls(
            client,
            settings.MONGODB_DATABASE,
            ensure_schema_on_first_use=bool(settings.MONGODB_ENSURE_INDEXES),
        )

    def __repr__(self) -> str:
        return f"MongoMetricStore(database={self.db.name!r})"

    @property
    def max_payload_bytes(self) -> int:
        return self._max_payload_bytes or int(settings.METRICS_MAX_PAYLOAD_BYTES)

    @property
    def retention_seconds(self) -> int:
        return int(self._retention_days or settings.METRICS_HISTORY_RETENTION_DAYS) * 86400

    # --- schema ------------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        for line in self.ensure_indexes():
            logger.info("metrics index %s", line)

    def ensure_indexes(self) -> list[str]:
        """Create the indexes, or adjust the TTL (metrics.lifecycle.ttl); idempotent. Returns what it did."""
        with self.driver_errors("ensure indexes"):
            done = [
                self.latest_collection.create_index([("source", ASCENDING)], unique=True, name="source_unique"),
                self.history_collection.create_index(
                    [("source", ASCENDING), ("sequence", ASCENDING)], unique=True, name="source_sequence_unique"
                ),
                self.history_collection.create_index(HISTORY_PAGE_INDEX, name="source_fetched_desc"),
                # Rollups (issue 8): series and rollup runs read by source/metric/tier in time order;
                # pruning deletes one tier across sources by time.
                self.rollup_collection.create_index(
                    [("source", ASCENDING), ("metric", ASCENDING), ("tier", ASCENDING), ("start_ms", ASCENDING)],
                    name="source_metric_tier_start",
                ),
                self.rollup_collection.create_index(
                    [("source", ASCENDING), ("tier", ASCENDING), ("start_ms", ASCENDING)], name="source_tier_start"
                ),
                self.rollup_collection.create_index([("tier", ASCENDING), ("start_ms", ASCENDING)], name="tier_start"),
                *self.ensure_availability_indexes(),
            ]
            # Lazy: the TTL follows the retention policies (metrics.lifecycle.ttl reads their model).
            from metrics.lifecycle.ttl import ensure_history_ttl

            done.append(ensure_history_ttl(self))
            self._schema_pending = False
            return done

    def _ready(self) -> None:
        if self._schema_pending:
            with self._schema_lock:
                if self._schema_pending:
                    self.ensure_indexes()

    # --- writes ------------------------------------------------------------------------------

    def record(
        self, source: SourceSpec, payload: JsonObject, fetched_at: datetime, poll_meta: JsonObject | None = None
    ) -> RecordResult:
        fetched_at = to_millis(aware_utc(fetched_at, "fetched_at"))
        prepared = prepare(source, payload, self.max_payload_bytes)
        if prepared.size_bytes > MAX_DOCUMENT_PAYLOAD_BYTES:
            raise PayloadError(
                f"payload is {prepared.size_bytes} bytes encoded, over the MongoDB store's "
                f"{MAX_DOCUMENT_PAYLOAD_BYTES}-byte limit (BSON documents stop at 16 MiB)"
            )
        meta = validate_poll_meta(poll_meta)
        with self.driver_errors(f"record {source.slug}"):
            self._ready()
            unchanged = self._touch_if_unchanged(source.slug, prepared.hash, fetched_at, meta)
            if unchanged is not None:
                return RecordResult(False, prepared.hash, prepared.metrics, unchanged, [])
            deadline = time.monotonic() + CAS_DEADLINE_SECONDS
            attempt = 0
            while True:
                result = self._try_record(source, prepared, fetched_at, meta)
                if result is not None:
                    return result
                # Another writer won this round (so the source did progress): back off with jitter so
                # the same writers do not collide again in lockstep.
                attempt += 1
                if time.monotonic() > deadline:
                    break
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))  # noqa: S311 - jitter, not crypto
        raise StoreError(f"MongoDB store: {source.slug} kept changing during {attempt} attempts to record it")

    def _touch_if_unchanged(self, slug: str, digest: str, fetched_at: datetime, meta: JsonObject) -> int | None:
        """The common case in one round trip: same content, newer poll -> move last_seen_at only."""
        doc = self.latest_collection.find_one_and_update(
            {
                "source": slug,
                "hash": digest,
                "seen.ms": {"$lte": epoch_ms(fetched_at)},
                "history_pending": {"$ne": True},
            },
            {"$set": _seen(fetched_at, meta)},
            projection={"sequence": 1},
        )
        return None if doc is None else int(doc["sequence"])

    def _try_record(
        self, source: SourceSpec, prepared: PreparedPayload, fetched_at: datetime, meta: JsonObject
    ) -> RecordResult | None:
        """One compare-and-set attempt; None when another writer moved latest first (retry)."""
        slug = source.slug
        latest = self.latest_collection.find_one({"source": slug})
        if latest is None:
            doc = self._latest_doc(slug, 1, prepared, fetched_at, meta, [])
            try:
                self.latest_collection.insert_one(doc)
            except DuplicateKeyError:
                return None  # another writer created it first: compare against theirs
            self._write_history(doc)
            return RecordResult(True, prepared.hash, prepared.metrics, 1, [])

        if latest.get("history_pending"):
            self._write_history(latest)  # repair: a writer died between latest and history

        sequence = int(latest["sequence"])
        if epoch_ms(fetched_at) < int(latest["epoch_ms"]):
            logger.info("ignored a stale record of %s fetched at %s", slug, fetched_at.isoformat())
            return RecordResult(False, prepared.hash, prepared.metrics, sequence, [])
        if latest["hash"] == prepared.hash:
            self.latest_collection.update_one(
                {"_id": latest["_id"], "sequence": sequence, "seen.ms": {"$lt": epoch_ms(fetched_at)}},
                {"$set": _seen(fetched_at, meta)},
            )
            return RecordResult(False, prepared.hash, prepared.metrics, sequence, [])

        diff = diff_payloads(json.loads(latest["payload_json"]), prepared.payload, source.volatile_paths)
        dicts = diff_to_json(diff)
        doc = self._latest_doc(slug, sequence + 1, prepared, fetched_at, meta, dicts)
        doc.pop("_id")
        # A whole-document replace, not $set: nx-27017 stores a top-level date given to $set as a
        # string (a date nested in a sub-document survives), while replace keeps BSON dates on both.
        won = self.latest_collection.find_one_and_replace(
            {"_id": latest["_id"], "sequence": sequence}, doc, return_document=ReturnDocument.AFTER
        )
        if won is None:
            return None
        self._write_history(won)
        return RecordResult(True, prepared.hash, prepared.metrics, sequence + 1, diff, diff_dicts=dicts)

    def _latest_doc(
        self,
        slug: str,
        sequence: int,
        prepared: PreparedPayload,
        fetched_at: datetime,
        meta: JsonObject,
        diff: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "_id": slug,
            "source": slug,
            "sequence": sequence,
            "hash": prepared.hash,
            "payload_json": prepared.canonical,
            "metrics": {metric_key(k): v for k, v in prepared.metrics.items()},
            "diff_json": json.dumps(diff, separators=(",", ":")),
            "fetched_at": fetched_at,
            "epoch_ms": epoch_ms(fetched_at),
            **_seen(fetched_at, meta),
            "history_pending": True,
        }

    def _write_history(self, latest: dict[str, Any]) -> None:
        """Upsert latest's history entry (idempotent), then clear the pending flag it carried."""
        entry = {
            key: latest[key]
            for key in ("source", "sequence", "hash", "payload_json", "metrics", "diff_json", "fetched_at", "epoch_ms")
        }
        # insert, a duplicate key meaning "already written" (by us before a crash, or by a writer that
        # repaired it), rather than an upsert with $setOnInsert: the same idempotence, and nx-27017
        # would store the top-level fetched_at given to $setOnInsert as a string.
        with suppress(DuplicateKeyError):
            self.history_collection.insert_one(entry)
        self.latest_collection.update_one(
            {"_id": latest["_id"], "sequence": entry["sequence"]}, {"$unset": {"history_pending": ""}}
        )

    def prune(self, source: str | None, before: datetime) -> int:
        query: dict[str, Any] = {"fetched_at": {"$lt": to_millis(aware_utc(before, "before"))}}
        if source is not None:
            query["source"] = source
        with self.driver_errors(f"prune {source or 'all sources'}"):
            return int(self.history_collection.delete_many(query).deleted_count)

    def delete_source(self, source: str) -> None:
        with self.driver_errors(f"delete {source}"):
            # Latest first: a half-done delete leaves orphan history, never a latest without its past.
            self.latest_collection.delete_one({"source": source})
            self.history_collection.delete_many({"source": source})
            self.rollup_collection.delete_many({"source": source})
            self._delete_availability(source)

    # --- reads -------------------------------------------------------------------------------

    def latest(self, source: str) -> Snapshot | None:
        with self.driver_errors(f"latest {source}"):
            doc = self.latest_collection.find_one({"source": source}, {"diff_json": 0})
        return None if doc is None else _snapshot(doc)

    def latest_all(self) -> dict[str, Snapshot]:
        with self.driver_errors("latest_all"):
            docs = list(self.latest_collection.find({}, {"diff_json": 0}).batch_size(ONE_BATCH))
        return {doc["source"]: _snapshot(doc) for doc in docs}

    def latest_sources(self) -> list[str]:
        with self.driver_errors("latest_sources"):
            docs = list(self.latest_collection.find({}, {"_id": 0, "source": 1}).batch_size(ONE_BATCH))
        return sorted(doc["source"] for doc in docs)

    def latest_heads(self) -> dict[str, SnapshotHead]:
        fields = {"_id": 0, "source": 1, "hash": 1, "metrics": 1, "fetched_at": 1, "seen": 1, "sequence": 1}
        with self.driver_errors("latest_heads"):
            docs = list(self.latest_collection.find({}, fields).batch_size(ONE_BATCH))
        return {
            doc["source"]: SnapshotHead(
                source=doc["source"],
                hash=doc["hash"],
                metrics=_metrics(doc),
                fetched_at=doc["fetched_at"].astimezone(UTC),
                last_seen_at=doc["seen"]["at"].astimezone(UTC),
                sequence=int(doc["sequence"]),
            )
            for doc in docs
        }

    def latest_of(self, sources: Iterable[str]) -> dict[str, Snapshot]:
        wanted = source_slugs(sources)
        if not wanted:
            return {}
        with self.driver_errors(f"latest_of {len(wanted)} sources"):
            docs = list(self.latest_collection.find({"source": {"$in": wanted}}, {"diff_json": 0}))
        return {doc["source"]: _snapshot(doc) for doc in docs}

    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        limit = history_limit(limit)
        query: dict[str, Any] = {"source": source}
        window: dict[str, Any] = {}
        if start is not None:
            window["$gte"] = to_millis(aware_utc(start, "start"))
        if end is not None:
            window["$lt"] = to_millis(aware_utc(end, "end"))
        if window:
            query["fetched_at"] = window
        if cursor is not None:
            at, sequence = decode_cursor(cursor)
            at = to_millis(at)
            query["$or"] = [{"fetched_at": {"$lt": at}}, {"fetched_at": at, "sequence": {"$lt": sequence}}]
        with self.driver_errors(f"history {source}"):
            docs = list(
                self.history_collection.find(query)
                .sort([("fetched_at", DESCENDING), ("sequence", DESCENDING)])
                # The same sort as the page index, so MongoDB walks it instead of sorting in memory.
                .limit(limit + 1)
            )
        entries = [_history_entry(doc) for doc in docs[:limit]]
        next_cursor = encode_cursor(entries[-1].fetched_at, entries[-1].sequence) if len(docs) > limit else None
        return HistoryPage(entries=entries, next_cursor=next_cursor)

    def history_in_order(self, source: str, after: int | None = None, limit: int = 500) -> list[HistoryEntry]:
        limit = history_limit(limit)
        query: dict[str, Any] = {"source": source}
        if after is not None:
            query["sequence"] = {"$gt": after}
        with self.driver_errors(f"history {source}"):
            # The order of the unique (source, sequence) index, walked instead of sorted in memory.
            docs = list(self.history_collection.find(query).sort([("sequence", ASCENDING)]).limit(limit))
        return [_history_entry(doc) for doc in docs]

    def series(self, source: str, metric: str, start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
        start, end = aware_utc(start, "start"), aware_utc(end, "end")
        width_ms = bucket_seconds(bucket, start, end) * 1000
        field = f"metrics.{metric_key(metric)}"
        tier = self._series_tier(source, metric, field, start)
        if tier != "raw":
            # Raw history no longer reaches back to start: answer from the finest rollup tier that does.
            return to_series(self.rollups(source, tier, start, end, metric=metric), start, end, bucket)
        # Arithmetic on epoch_ms (written at record time) rather than $dateTrunc: correct on real
        # MongoDB and on nx-27017, whose $dateTrunc groups come back as strings.
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "source": source,
                    "fetched_at": {"$gte": to_millis(start), "$lt": to_millis(end)},
                    field: {"$exists": True},
                }
            },
            {
                "$group": {
                    "_id": {"$subtract": ["$epoch_ms", {"$mod": ["$epoch_ms", width_ms]}]},
                    "min": {"$min": f"${field}"},
                    # The sum, not $avg: a sum beyond a float (two samples near 1e308) is inf, and the bucket is
                    # left out, as a rollup bucket of such samples is (metrics.rollups).
                    "sum": {"$sum": f"${field}"},
                    "max": {"$max": f"${field}"},
                    "count": {"$sum": 1},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        with self.driver_errors(f"series {source}.{metric}"):
            rows = list(self.history_collection.aggregate(pipeline, batchSize=ONE_BATCH))
        return [
            SeriesBucket(
                start=datetime.fromtimestamp(int(row["_id"]) / 1000, tz=UTC),
                min=float(row["min"]),
                avg=total / int(row["count"]),
                max=float(row["max"]),
                count=int(row["count"]),
            )
            for row in rows
            if math.isfinite(total := float(row["sum"]))
        ]

    def series_many(
        self, keys: Sequence[SeriesKey], start: datetime, end: datetime, bucket: timedelta, tier: str
    ) -> dict[SeriesKey, list[SeriesBucket]]:
        start, end, width = series_many_args(keys, start, end, bucket, tier)
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        if tier == "raw":
            return self._raw_series_many(wanted, start, end, width)
        return self._rollup_series_many(wanted, start, end, width, tier)

    def _rollup_series_many(
        self, wanted: list[SeriesKey], start: datetime, end: datetime, width: int, tier: str
    ) -> dict[SeriesKey, list[SeriesBucket]]:
        """One aggregate on the history: the raw samples of the last TAIL_WINDOW, then ($unionWith) the
        tier's buckets and each source's newest entry before the window, told apart by their fields. A
        second command only for a gap before the window that the buckets do not cover."""
        sources = sorted({key.source for key in wanted})
        tail_from = to_millis(max(start, min(end, datetime.now(UTC)) - TAIL_WINDOW))
        buckets = {
            "source": {"$in": sources},
            "metric": {"$in": sorted({key.metric for key in wanted})},
            "tier": tier,
            "start_ms": {"$gte": epoch_ms(bucket_start(start, tier)), "$lt": epoch_ms(end)},
        }
        pipeline: list[dict[str, Any]] = [
            {"$match": {"source": {"$in": sources}, "fetched_at": {"$gte": tail_from, "$lt": to_millis(end)}}},
            {"$project": TAIL_FIELDS},
            # Whole bucket documents (a few small fields): nx-27017 answers a pipeline with a $project by
            # reading the whole collection in Python (seconds on a month of buckets), while its fast path
            # drops what $unionWith adds (the $project above keeps this pipeline off it).
            {"$unionWith": {"coll": ROLLUPS, "pipeline": [{"$match": buckets}]}},
        ]
        if tail_from > start:
            # One entry per source, walking the (source, fetched_at desc) index: a limit, not a scan.
            pipeline += [
                {
                    "$unionWith": {
                        "coll": HISTORY,
                        "pipeline": [
                            {"$match": {"source": source, "fetched_at": {"$gte": to_millis(start), "$lt": tail_from}}},
                            {"$sort": {"fetched_at": DESCENDING}},
                            {"$limit": 1},
                            {"$project": NEWEST_BEFORE_FIELDS},
                        ],
                    }
                }
                for source in sources
            ]
        parts: dict[SeriesKey, list[tuple[datetime, int, float, float, float]]] = {key: [] for key in wanted}
        newest: dict[SeriesKey, int] = {}
        newest_before: dict[str, int] = {}  # per source: its newest entry before the window (epoch ms)
        samples: list[dict[str, Any]] = []
        with self.driver_errors("series_many"):
            docs = list(self.history_collection.aggregate(pipeline, batchSize=ONE_BATCH))
        for doc in docs:
            if "metric" in doc:  # a rollup bucket
                key = SeriesKey(doc["source"], doc["metric"])
                if key in parts:
                    parts[key].append(
                        (
                            _from_ms(doc["start_ms"]),
                            int(doc["count"]),
                            float(doc["min"]),
                            float(doc["max"]),
                            float(doc["sum"]),
                        )
                    )
                    newest[key] = max(newest.get(key, 0), int(doc["last_at_ms"]))
            elif "sequence" in doc:  # NEWEST_BEFORE_FIELDS
                newest_before[doc["source"]] = int(doc["epoch_ms"])
            else:  # a raw sample of the window (TAIL_FIELDS)
                samples.append(doc)
        # The samples not rolled up yet: after each key's newest bucket (per source, the earliest of its keys).
        # A key without buckets takes its source's newest: a rollup run counts every metric of each sample it
        # reaches, so that metric had no sample until there (a board's "*" sources include ones without it,
        # and their raw history in the range is not read for it).
        reached: dict[str, int] = {}
        for key, at_ms in newest.items():
            reached[key.source] = max(reached.get(key.source, at_ms), at_ms)
        since: dict[str, int] = {}
        for key in wanted:
            after = newest.get(key, reached.get(key.source, epoch_ms(start) - 1))
            since[key.source] = min(since.get(key.source, after), after)
        gaps = {source: after for source, after in since.items() if newest_before.get(source, after) > after}
        samples.extend(self._tail_gap(gaps, start, tail_from))
        metrics = {key.metric for key in wanted}
        for doc in samples:
            at_ms = int(doc["epoch_ms"])
            values = doc.get("metrics") or {}
            for metric in metrics:
                key = SeriesKey(doc["source"], metric)
                value = values.get(metric_key(metric))
                if key in parts and isinstance(value, int | float) and at_ms > newest.get(key, -1):
                    parts[key].append((_from_ms(at_ms), 1, float(value), float(value), float(value)))
        return {key: series_from_parts(rows, width) for key, rows in parts.items()}

    def _tail_gap(self, gaps: dict[str, int], start: datetime, tail_from: datetime) -> list[dict[str, Any]]:
        """The raw samples of each source in ``gaps`` after its epoch ms there and before ``tail_from``."""
        if not gaps:
            return []
        query = {
            "$or": [{"source": source, "epoch_ms": {"$gt": after}} for source, after in sorted(gaps.items())],
            "fetched_at": {"$gte": to_millis(start), "$lt": tail_from},
        }
        with self.driver_errors("series_many tail"):
            return list(self.history_collection.find(query, TAIL_FIELDS).batch_size(ONE_BATCH))

    def _raw_series_many(
        self, wanted: list[SeriesKey], start: datetime, end: datetime, width: int
    ) -> dict[SeriesKey, list[SeriesBucket]]:
        """One aggregate: grouped by (source, bucket), a min/avg/max/count per asked metric."""
        metrics = sorted({key.metric for key in wanted})
        # One string key "<source>|<bucket ms>": nx-27017 does not evaluate expressions inside a compound _id.
        group: dict[str, Any] = {"_id": "$key"}
        for index, metric in enumerate(metrics):
            field = f"$metrics.{metric_key(metric)}"
            group[f"lo{index}"] = {"$min": field}
            group[f"sm{index}"] = {"$sum": field}  # not $avg: a sum beyond a float leaves the bucket out (series)
            group[f"hi{index}"] = {"$max": field}
            # Documents without the metric do not count ($type "missing" is not evaluated by nx-27017).
            group[f"n{index}"] = {"$sum": {"$cond": [{"$eq": [{"$ifNull": [field, None]}, None]}, 0, 1]}}
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "source": {"$in": sorted({key.source for key in wanted})},
                    "fetched_at": {"$gte": to_millis(start), "$lt": to_millis(end)},
                }
            },
            {
                "$project": {
                    "metrics": 1,
                    "key": {
                        "$concat": [
                            "$source",
                            "|",
                            {"$toString": {"$subtract": ["$epoch_ms", {"$mod": ["$epoch_ms", width * 1000]}]}},
                        ]
                    },
                }
            },
            {"$group": group},
        ]
        result: dict[SeriesKey, list[SeriesBucket]] = {key: [] for key in wanted}
        with self.driver_errors("series_many"):
            rows = list(self.history_collection.aggregate(pipeline, batchSize=ONE_BATCH))
        for row in rows:
            source, _, bucket_ms = str(row["_id"]).rpartition("|")
            at = datetime.fromtimestamp(int(float(bucket_ms)) / 1000, tz=UTC)
            for index, metric in enumerate(metrics):
                found = result.get(SeriesKey(source, metric))
                count = int(row[f"n{index}"] or 0)
                if found is None or not count or not math.isfinite(total := float(row[f"sm{index}"] or 0)):
                    continue
                found.append(
                    SeriesBucket(
                        start=at,
                        min=float(row[f"lo{index}"]),
                        avg=total / count,
                        max=float(row[f"hi{index}"]),
                        count=count,
                    )
                )
        for buckets in result.values():
            buckets.sort(key=lambda b: b.start)
        return result

    def _series_tier(self, source: str, metric: str, field: str, start: datetime) -> str:
        with self.driver_errors(f"series tier {source}.{metric}"):
            first = self.history_collection.find_one(
                {"source": source, field: {"$exists": True}}, {"epoch_ms": 1}, sort=[("fetched_at", ASCENDING)]
            )
            oldest: dict[str, datetime | None] = {"raw": None if first is None else _from_ms(first["epoch_ms"])}
            if oldest["raw"] is not None and oldest["raw"] <= start:
                return "raw"
            for tier in TIERS:
                doc = self.rollup_collection.find_one(
                    {"source": source, "metric": metric, "tier": tier}, {"start_ms": 1}, sort=[("start_ms", ASCENDING)]
                )
                oldest[tier] = None if doc is None else _from_ms(doc["start_ms"])
        return finest_covering_tier(start, oldest)

    # --- rollups and restore (retention, export and import: metrics/lifecycle/) -------------------
    # Times are stored as epoch milliseconds beside the BSON dates and queried by those integers:
    # the same on real MongoDB and nx-27017, whatever either does with dates.

    def write_rollups(self, buckets: Sequence[RollupBucket]) -> int:
        if not buckets:
            return 0
        # The _id repeated in the replacement: nx-27017 ignores the filter's _id when an upsert
        # inserts (it would add a duplicate each time); real MongoDB accepts the same _id either way.
        operations = [
            ReplaceOne({"_id": _rollup_id(b)}, {"_id": _rollup_id(b), **_rollup_doc(b)}, upsert=True) for b in buckets
        ]
        with self.driver_errors("write rollups"):
            self._ready()
            for offset in range(0, len(operations), 1000):
                self.rollup_collection.bulk_write(operations[offset : offset + 1000], ordered=False)
        return len(operations)

    def add_rollups(self, buckets: Sequence[RollupBucket]) -> int:
        if not buckets:
            return 0
        docs = {_rollup_id(b): {"_id": _rollup_id(b), **_rollup_doc(b)} for b in buckets}
        added = 0
        with self.driver_errors("add rollups"):
            self._ready()
            ids = list(docs)
            for offset in range(0, len(ids), 1000):
                chunk = ids[offset : offset + 1000]
                stored = {doc["_id"] for doc in self.rollup_collection.find({"_id": {"$in": chunk}}, {"_id": 1})}
                missing = [docs[key] for key in chunk if key not in stored]
                if not missing:
                    continue
                try:
                    added += len(self.rollup_collection.insert_many(missing, ordered=False).inserted_ids)
                except BulkWriteError as exc:
                    # A bucket a rollup run wrote since the read above is kept (duplicate key); anything else fails.
                    if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                        raise
                    added += int(exc.details.get("nInserted", 0))
        return added

    def rollups(
        self,
        source: str,
        tier: str,
        start: datetime | None = None,
        end: datetime | None = None,
        metric: str | None = None,
    ) -> list[RollupBucket]:
        query: dict[str, Any] = {"source": source, "tier": tier}
        window: dict[str, int] = {}
        if start is not None:
            window["$gte"] = epoch_ms(aware_utc(start, "start"))
        if end is not None:
            window["$lt"] = epoch_ms(aware_utc(end, "end"))
        if window:
            query["start_ms"] = window
        if metric is not None:
            query["metric"] = metric
        with self.driver_errors(f"rollups {source}"):
            docs = list(
                self.rollup_collection.find(query)
                .sort([("metric", ASCENDING), ("start_ms", ASCENDING)])
                .batch_size(ONE_BATCH)
            )
        return [_rollup_bucket(doc) for doc in docs]

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
        wanted = sorted(set(sources))
        if not wanted or (starts is not None and not starts):
            return []
        query: dict[str, Any] = {"source": {"$in": wanted}, "tier": tier, "metric": metric}
        window: dict[str, Any] = {}
        if start is not None:
            window["$gte"] = epoch_ms(aware_utc(start, "start"))
        if end is not None:
            window["$lt"] = epoch_ms(aware_utc(end, "end"))
        if starts is not None:
            window["$in"] = sorted({epoch_ms(aware_utc(s, "starts")) for s in starts})
        if window:
            query["start_ms"] = window
        with self.driver_errors(f"rollups of {len(wanted)} sources"):
            docs = list(self.rollup_collection.find(query).sort([("source", ASCENDING), ("start_ms", ASCENDING)]))
        return [_rollup_bucket(doc) for doc in docs]

    def good_minutes_of(
        self,
        sources: Sequence[str],
        metric: str,
        comparison: str,
        bound: float,
        spans: Sequence[tuple[datetime, datetime]],
    ) -> list[tuple[int, int]]:
        check_comparison(comparison)
        checked = [(epoch_ms(aware_utc(low, "start")), epoch_ms(aware_utc(high, "end"))) for low, high in spans]
        wanted = sorted(set(sources))
        if not wanted or not checked:
            return [(0, 0)] * len(checked)
        # Three fields a bucket, counted here (metrics.rollups.count_good_minutes): on nx-27017 an aggregation
        # takes ten times as long as the find (metrics.stores.mongo_availability).
        query = {
            "source": {"$in": wanted},
            "tier": "1m",
            "metric": metric,
            "start_ms": {"$gte": min(low for low, _ in checked), "$lt": max(high for _, high in checked)},
        }
        with self.driver_errors(f"good minutes of {len(wanted)} sources"):
            docs = list(self.rollup_collection.find(query, {"_id": 0, "start_ms": 1, "count": 1, "sum": 1}))
        buckets = ((int(doc["start_ms"]), int(doc["count"]), float(doc["sum"])) for doc in docs)
        return count_good_minutes(buckets, comparison, bound, checked)

    def latest_rollup_start(self, source: str, tier: str) -> datetime | None:
        with self.driver_errors(f"rollups {source}"):
            doc = self.rollup_collection.find_one(
                {"source": source, "tier": tier}, {"start_ms": 1}, sort=[("start_ms", DESCENDING)]
            )
        return None if doc is None else _from_ms(doc["start_ms"])

    def prune_rollups(self, source: str | None, tier: str, before: datetime) -> int:
        query: dict[str, Any] = {"tier": tier, "start_ms": {"$lt": epoch_ms(aware_utc(before, "before"))}}
        if source is not None:
            query["source"] = source
        with self.driver_errors(f"prune rollups {source or 'all sources'}"):
            return int(self.rollup_collection.delete_many(query).deleted_count)

    def restore_history(self, entries: Sequence[HistoryEntry]) -> int:
        added = 0
        with self.driver_errors("restore history"):
            self._ready()
            for entry in entries:
                fetched_at = to_millis(aware_utc(entry.fetched_at, "fetched_at"))
                doc = {
                    "source": entry.source,
                    "sequence": entry.sequence,
                    "hash": entry.hash,
                    "payload_json": canonical_json(entry.payload),
                    "metrics": {metric_key(k): v for k, v in entry.metrics.items()},
                    "diff_json": json.dumps(diff_to_json(entry.diff), separators=(",", ":")),
                    "fetched_at": fetched_at,
                    "epoch_ms": epoch_ms(fetched_at),
                }
                try:
                    self.history_collection.insert_one(doc)
                except DuplicateKeyError:
                    continue  # already there (source, sequence): an import run twice adds nothing
                added += 1
        return added

    def restore_latest(self, snapshot: Snapshot) -> bool:
        fetched_at = to_millis(aware_utc(snapshot.fetched_at, "fetched_at"))
        seen_at = to_millis(aware_utc(snapshot.last_seen_at, "last_seen_at"))
        doc = {
            "source": snapshot.source,
            "sequence": snapshot.sequence,
            "hash": snapshot.hash,
            "payload_json": canonical_json(snapshot.payload),
            "metrics": {metric_key(k): v for k, v in snapshot.metrics.items()},
            "diff_json": "[]",
            "fetched_at": fetched_at,
            "epoch_ms": epoch_ms(fetched_at),
            **_seen(seen_at, dict(snapshot.poll_meta)),
        }
        with self.driver_errors(f"restore latest {snapshot.source}"):
            self._ready()
            current = self.latest_collection.find_one(
                {"source": snapshot.source}, {"sequence": 1, "hash": 1, "seen": 1}
            )
            if current is None:
                try:
                    self.latest_collection.insert_one({"_id": snapshot.source, **doc})
                except DuplicateKeyError:
                    return False  # a poll stored the source first: its snapshot is kept
                return True
            stored_seen = _from_ms(current["seen"]["ms"])
            if not replaces_latest(int(current["sequence"]), current["hash"], stored_seen, snapshot):
                return False  # the store moved on since the export (or holds other content): keep it
            # Replaced only while it still is what was compared: a poll in between keeps its newer snapshot.
            unchanged = {"_id": current["_id"], "sequence": current["sequence"], "seen.ms": current["seen"]["ms"]}
            return self.latest_collection.replace_one(unchanged, doc).matched_count == 1

    def stats(self) -> StoreStats:
        with self.driver_errors("stats"):
            oldest = self.history_collection.find_one({}, {"fetched_at": 1}, sort=[("fetched_at", ASCENDING)])
            newest = self.history_collection.find_one({}, {"fetched_at": 1}, sort=[("fetched_at", DESCENDING)])
            return StoreStats(
                backend=self.backend,
                history_count=self.history_collection.count_documents({}),
                latest_count=self.latest_collection.count_documents({}),
                oldest=None if oldest is None else oldest["fetched_at"],
                newest=None if newest is None else newest["fetched_at"],
                size_bytes=self._size_bytes(),
            )

    def _size_bytes(self) -> int | None:
        total = 0
        for name in (LATEST, HISTORY):
            try:
                # collStats is deprecated since 6.2 but still answered by 7.x and by nx-27017.
                stats = self.db.command("collStats", name)
            except PyMongoError:
                return None
            total += int(stats.get("size", 0)) + int(stats.get("totalIndexSize", 0))
        return total

    def close(self) -> None:
        self.client.close()

    # --- helpers -----------------------------------------------------------------------------

    @contextmanager
    def driver_errors(self, what: str) -> Iterator[None]:
        """Driver failures (outage, timeout, refused write) become a StoreError callers can count and retry.

        Public for code working on this store's collections from outside (metrics.lifecycle.ttl).
        """
        try:
            yield
        except DocumentTooLarge as exc:
            raise PayloadError(f"MongoDB refused the document for {what}: {exc}") from None
        except PyMongoError as exc:
            # Only the exception type and its first line: server descriptions can be long.
            detail = str(exc).splitlines()[0][:300] if str(exc) else ""
            raise StoreError(f"MongoDB metric store failed to {what}: {type(exc).__name__}: {detail}") from exc


def _from_ms(value: Any) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(value))


def _rollup_id(bucket: RollupBucket) -> str:
    return f"{bucket.source}|{bucket.tier}|{epoch_ms(bucket.start)}|{bucket.metric}"


def _rollup_doc(bucket: RollupBucket) -> dict[str, Any]:
    return {
        "source": bucket.source,
        "metric": bucket.metric,
        "tier": bucket.tier,
        "start_ms": epoch_ms(bucket.start),
        "count": bucket.count,
        "min": bucket.min,
        "max": bucket.max,
        "sum": bucket.sum,
        "last": bucket.last,
        "last_at_ms": epoch_ms(bucket.last_at),
    }


def _rollup_bucket(doc: dict[str, Any]) -> RollupBucket:
    return RollupBucket(
        source=doc["source"],
        metric=doc["metric"],
        tier=doc["tier"],
        start=_from_ms(doc["start_ms"]),
        count=int(doc["count"]),
        min=float(doc["min"]),
        max=float(doc["max"]),
        sum=float(doc["sum"]),
        last=float(doc["last"]),
        last_at=_from_ms(doc["last_at_ms"]),
    )


def _seen(fetched_at: datetime, meta: JsonObject) -> dict[str, Any]:
    # last_seen_at lives in a sub-document with its epoch milliseconds: compared as an integer, and
    # a date nested in a sub-document survives $set on nx-27017 (a top-level one becomes a string).
    return {"seen": {"at": fetched_at, "ms": epoch_ms(fetched_at)}, "poll_meta": meta}


def _metrics(doc: dict[str, Any]) -> dict[str, float]:
    return {metric_name(k): float(v) for k, v in (doc.get("metrics") or {}).items()}


def _snapshot(doc: dict[str, Any]) -> Snapshot:
    return Snapshot(
        source=doc["source"],
        hash=doc["hash"],
        payload=json.loads(doc["payload_json"]),
        metrics=_metrics(doc),
        fetched_at=doc["fetched_at"].astimezone(UTC),
        last_seen_at=doc["seen"]["at"].astimezone(UTC),
        sequence=int(doc["sequence"]),
        poll_meta=dict(doc.get("poll_meta") or {}),
    )


def _history_entry(doc: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        id=str(doc["_id"]),
        source=doc["source"],
        hash=doc["hash"],
        payload=json.loads(doc["payload_json"]),
        metrics=_metrics(doc),
        diff=diff_from_json(json.loads(doc.get("diff_json") or "[]")),
        fetched_at=doc["fetched_at"].astimezone(UTC),
        sequence=int(doc["sequence"]),
    )
