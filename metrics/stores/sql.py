"""The SQL metric store, on the Django ORM: SQLite embedded, PostgreSQL in production.

Consistency: ``record`` runs in one transaction that first locks the source's latest row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite takes the database write lock at BEGIN because
the settings use ``transaction_mode=IMMEDIATE``, and this module also serializes a process's own
SQLite writers). The latest row, the history entry and its metric samples commit together or not
at all, so a crash never leaves history without its latest snapshot. A unique (source, sequence)
constraint on history backs the lock up: two writers can never append the same change twice.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import NullIf
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual, Lookup

from devops_insights.collector import detached
from metrics.extraction import (
    PreparedPayload,
    canonical_json,
    diff_payloads,
    prepare,
    validate_poll_meta,
)
from metrics.models import HistoryEntryRow, LatestSnapshot, MetricRollup, MetricSample
from metrics.rollups import (
    TIERS,
    RollupBucket,
    bucket_start,
    check_comparison,
    finest_covering_tier,
    replaces_latest,
    to_series,
)
from metrics.stores.arguments import (
    LATEST_OF_CHUNK,
    aware_utc,
    bucket_seconds,
    decode_cursor,
    encode_cursor,
    history_limit,
    series_many_args,
    source_slugs,
)
from metrics.stores.base import (
    FieldChange,
    HistoryEntry,
    HistoryPage,
    JsonObject,
    MetricStore,
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
from metrics.stores.diff_bases import DiffBase, DiffBases
from metrics.stores.durability import relax_column
from metrics.stores.sql_availability import SqlAvailability
from metrics.stores.statement_shapes import bound_cursor, unpacked_rows

logger = logging.getLogger("metrics.store")
T = TypeVar("T")
# Sources per statement of a multi-source read: SQLite binds at most 32,766 parameters in one statement.
MAX_SOURCES_PER_STATEMENT = 5000
# A chart bucket's sum is taken in the database scaled down by 2**-64 and scaled back here. PostgreSQL raises
# "value out of range: overflow" for a float8 SUM or AVG beyond a float (two samples near 1e308 in one bucket),
# which failed the whole chart; scaled, the sum stays in range and comes back as inf, and the bucket is left out
# as a rollup bucket of such samples is (metrics.rollups). A power of two changes no bit of a normal float, so
# every other sum is the one SUM gave; only values below 2**-958 (about 1e-289) would lose precision.
SUM_SCALE = 2.0**-64
_SCALED_VALUE = ExpressionWrapper(F("value") * Value(SUM_SCALE), output_field=FloatField())
# metrics.rollups.COMPARISONS as SQL lookups (good_minutes_of).
_SQL_COMPARISONS: dict[str, type[Lookup[Any]]] = {
    ">": GreaterThan,
    ">=": GreaterThanOrEqual,
    "<": LessThan,
    "<=": LessThanOrEqual,
}

_sqlite_write_locks: dict[str, threading.RLock] = {}
_sqlite_write_locks_guard = threading.Lock()


def sqlite_write_lock(alias: str) -> threading.RLock:
    """The one-writer lock of a SQLite database in this process.

    SQLite allows one writer at a time anyway: serializing a process's own threads here means they queue in
    Python instead of in SQLite's busy handler (which sleeps and retries, costlier at 16 threads) or failing
    with "database table is locked". The store's writes take it; a caller that writes the same database
    itself (the poller's health rows) takes it too. Reentrant, so such a caller may call the store while
    holding it. Reads need none (WAL): an unchanged poll takes no lock.
    """
    with _sqlite_write_locks_guard:
        return _sqlite_write_locks.setdefault(alias, threading.RLock())


class SqlMetricStore(SqlAvailability, MetricStore):  # availability: metrics.stores.sql_availability
    backend = "sql"

    def __init__(self, using: str = "default", max_payload_bytes: int | None = None) -> None:
        self.using = using
        self._max_payload_bytes = max_payload_bytes
        # The hash and sequence this process last read or wrote per source: one entry per source, so
        # bounded by the number of sources (``delete_source`` drops its entry). Only a hint: the
        # unchanged fast path checks it against the row in the same statement.
        self._known: dict[str, tuple[str, int]] = {}
        # The document this process last stored per source, so that a change is diffed before any statement
        # (and on SQLite before the write lock) and written without reading the row (``_record_on_known_base``);
        # bounded by bytes.
        self._diff_bases = DiffBases(settings.METRICS_DIFF_BASE_CACHE_BYTES)
        # With ``defer_seen_writes``: per source, the newest unchanged sighting not written yet
        # (hash, sequence, fetched_at, poll meta); one entry per source, emptied by ``flush``.
        self._seen: dict[str, tuple[str, int, datetime, JsonObject]] | None = None
        self._seen_lock = threading.Lock()

    def defer_seen_writes(self) -> None:
        if self._seen is None:
            self._seen = {}

    def flush(self) -> int:
        """Write the held-back ``last_seen_at`` of unchanged sources: one statement for all, one transaction.

        Each row is only moved if it still holds the content that was seen (same hash and sequence) and
        was not seen later, so a change stored meanwhile, by this process or another, is never undone.
        A sighting that does not apply also drops what this process believed of its source: the next
        poll of it reads the row again (``_read_unchanged``), so a change another writer stored is
        compared against within one poll.
        """
        if not self._seen:
            return 0
        with self._seen_lock:
            seen, self._seen = self._seen, {}
        connection = connections[self.using]
        ops = connection.ops
        table = ops.quote_name(LatestSnapshot._meta.db_table)
        rows = [
            (slug, digest, sequence, ops.adapt_datetimefield_value(fetched_at), json.dumps(meta))
            for slug, (digest, sequence, fetched_at, meta) in seen.items()
        ]
        select, params = unpacked_rows(connection, _SIGHTING_COLUMNS, rows)
        sql = (
            f"UPDATE {table} SET last_seen_at = r.at, poll_meta = r.meta{json_cast(connection)} FROM ({select}) AS r "  # noqa: S608 - names from the model
            f"WHERE {table}.source = r.source AND {table}.hash = r.hash AND {table}.sequence = r.sequence "
            f"AND {table}.last_seen_at < r.at RETURNING {table}.source"
        )

        def run() -> set[str]:
            with transaction.atomic(using=self.using, savepoint=False), bound_cursor(connection) as cursor:
                cursor.execute(sql, params)
                return {row[0] for row in cursor.fetchall()}

        try:
            applied = self._write(run, f"{len(rows)} unchanged sources")
        except StoreError:
            # Nothing was written (one transaction): hold the sightings again for the next flush, unless a
            # newer one of the same source came meanwhile. Dropped, a source polled less often than the
            # flushes run would look stale (last_seen_at) until its next poll.
            with self._seen_lock:
                if self._seen is not None:
                    for slug, sighting in seen.items():
                        held = self._seen.get(slug)
                        if held is None or held[2] < sighting[2]:
                            self._seen[slug] = sighting
            raise
        for slug, (digest, sequence, _at, _meta) in seen.items():
            if slug not in applied and self._known.get(slug) == (digest, sequence):
                self._known.pop(slug, None)
        return len(rows)

    @property
    def max_payload_bytes(self) -> int:
        return self._max_payload_bytes or int(settings.METRICS_MAX_PAYLOAD_BYTES)

    def __repr__(self) -> str:
        return f"SqlMetricStore(using={self.using!r})"

    # --- writes ------------------------------------------------------------------------------

    def record(
        self, source: SourceSpec, payload: JsonObject, fetched_at: datetime, poll_meta: JsonObject | None = None
    ) -> RecordResult:
        # Validation happens before any database work: a bad payload touches nothing stored.
        fetched_at = aware_utc(fetched_at, "fetched_at")
        prepared = prepare(source, payload, self.max_payload_bytes)
        meta = validate_poll_meta(poll_meta)
        if self._seen is not None:
            # Deferring (the poller): an unchanged document is a comparison or a read, never a write, so it
            # takes no SQLite write lock; anything else goes to the locked path, which compares again.
            unchanged = self._guard(lambda: self._read_unchanged(source, prepared, fetched_at, meta), source.slug)
            if unchanged is not None:
                return unchanged
        # A change to the document this process stored last is diffed and encoded here, before any statement
        # and, on SQLite, before the write lock: the lock is then held for the writes alone.
        change = self._known_change(source, prepared, meta)
        attempt = partial(self._record, source, prepared, fetched_at, meta, change)
        if connections[self.using].vendor == "sqlite":
            with sqlite_write_lock(self.using):
                return self._guard(lambda: _retrying(attempt), source.slug)
        return self._guard(lambda: _retrying(attempt), source.slug)

    def _record(
        self,
        source: SourceSpec,
        prepared: PreparedPayload,
        fetched_at: datetime,
        meta: JsonObject,
        change: _KnownChange | None,
    ) -> RecordResult:
        unchanged = self._record_unchanged(source, prepared, fetched_at, meta)
        if unchanged is not None:
            return unchanged
        result = self._record_on_known_base(source, prepared, fetched_at, change) if change is not None else None
        if result is not None:
            known = (result.hash, result.sequence)
        else:
            result, known = self._record_locked(source, prepared, fetched_at, meta)
        # Only now, the transaction committed: a rolled-back change must not become this process's belief.
        self._known[source.slug] = known
        if result.changed:
            self._diff_bases.put(source.slug, result.hash, result.sequence, prepared.canonical)
        return result

    def _known_change(self, source: SourceSpec, prepared: PreparedPayload, meta: JsonObject) -> _KnownChange | None:
        """The change from the document this process stored last (``metrics/stores/diff_bases.py``), diffed and
        its columns encoded; None when nothing is remembered or the content is the same (the locked path, or
        the unchanged one, compares and decides)."""
        base = self._diff_bases.get(source.slug)
        if base is None or base.hash == prepared.hash:
            return None
        connection = connections[self.using]
        payload_field: Any = LatestSnapshot._meta.get_field("payload")  # the ORM's own decoding, as for a read row
        old = payload_field.from_db_value(base.canonical, None, connection)
        diff = diff_payloads(old, prepared.payload, source.volatile_paths)
        dicts = diff_to_json(diff)
        return _KnownChange(
            base=base,
            diff=diff,
            diff_dicts=dicts,
            document=_DocumentParams.of(connection, prepared),
            meta=_json_param(LatestSnapshot, "poll_meta", meta, connection),
            diff_param=_json_param(HistoryEntryRow, "diff", dicts, connection),
        )

    def _record_on_known_base(
        self, source: SourceSpec, prepared: PreparedPayload, fetched_at: datetime, change: _KnownChange
    ) -> RecordResult | None:
        """A change to the document this process stored last, written only while the latest row still holds it.

        The diff was taken against the remembered document before any statement (``_known_change``). The
        latest row, its history entry and its samples are written only while the row still holds that
        document's hash and sequence and no newer poll. On PostgreSQL that is one statement
        (``_CHANGE_KNOWN``), atomic on its own, and the row lock its UPDATE takes makes a concurrent
        writer's change fail the condition rather than race it: one round trip instead of the locked
        read's two. On SQLite it is a conditional UPDATE in the write transaction (taken at BEGIN), then
        the two inserts: no read of the row and no diff or encoding under the process's write lock.
        When the row holds anything else (another writer's change, a newer poll, no row), nothing is
        written and the locked path decides, so the result is the same as the locked path's.
        """
        connection = connections[self.using]
        base, document = change.base, change.document
        sequence = base.sequence + 1
        at = connection.ops.adapt_datetimefield_value(fetched_at)
        if connection.vendor == "postgresql":
            with bound_cursor(connection) as cursor:
                cursor.execute(
                    _sql(connection, _CHANGE_KNOWN, relax=relax_column(connection)),
                    {
                        "source": source.slug,
                        "old_hash": base.hash,
                        "old_sequence": base.sequence,
                        "hash": prepared.hash,
                        "payload": document.payload,
                        "metrics": document.metrics,
                        "at": at,
                        "sequence": sequence,
                        "meta": change.meta,
                        "diff": change.diff_param,
                        "epoch": int(fetched_at.timestamp()),
                    },
                )
                row = cursor.fetchone()
            applied = bool(row and row[0])
        else:
            with _change_transaction(connection) as cursor:
                cursor.execute(
                    _sql(connection, _UPDATE_KNOWN, json=json_cast(connection)),
                    [
                        *_changed_values(prepared, document, at, sequence, change.meta),
                        source.slug,
                        base.hash,
                        base.sequence,
                        at,
                    ],
                )
                applied = cursor.rowcount == 1
                if applied:
                    self._append_history(
                        cursor, source.slug, sequence, prepared, fetched_at, change.diff_param, document
                    )
        if not applied:
            self._diff_bases.drop(source.slug)  # the row moved on without this process: read it next time
            return None
        return RecordResult(
            changed=True,
            hash=prepared.hash,
            metrics=prepared.metrics,
            sequence=sequence,
            diff=change.diff,
            diff_dicts=change.diff_dicts,
        )

    def _record_unchanged(
        self, source: SourceSpec, prepared: PreparedPayload, fetched_at: datetime, meta: JsonObject
    ) -> RecordResult | None:
        """The common case in one statement: the same content as the latest row, seen later.

        The UPDATE's WHERE is the hash comparison (and the sequence this process last saw, and the
        order of times), so it is as safe as the locked path: when it matches no row (another content,
        another writer's newer row, no row yet, an older poll) the locked path decides instead.
        """
        if self._seen is not None:
            return None  # deferring: record() has compared already (``_read_unchanged``)
        known = self._known.get(source.slug)
        if known is None or known[0] != prepared.hash:
            return None
        connection = connections[self.using]
        at = connection.ops.adapt_datetimefield_value(fetched_at)
        with connection.cursor() as cursor:
            cursor.execute(
                _sql(
                    connection,
                    "UPDATE {latest} SET last_seen_at = %s, poll_meta = %s "
                    "WHERE source = %s AND hash = %s AND sequence = %s AND last_seen_at < %s AND fetched_at <= %s",
                ),
                [
                    at,
                    _json_param(LatestSnapshot, "poll_meta", meta, connection),
                    source.slug,
                    prepared.hash,
                    known[1],
                    at,
                    at,
                ],
            )
            updated = cursor.rowcount
        if updated != 1:
            return None
        return RecordResult(changed=False, hash=prepared.hash, metrics=prepared.metrics, sequence=known[1], diff=[])

    def _read_unchanged(
        self, source: SourceSpec, prepared: PreparedPayload, fetched_at: datetime, meta: JsonObject
    ) -> RecordResult | None:
        """Deferring: the hash comparison against what this process last stored or read of the source, with
        no statement at all; the sighting is written by ``flush``, conditionally. Only a source this process
        knows nothing of yet is read (one SELECT, no commit to wait for).

        Why trusting the process's own record is safe: a source's polls go to one poller at a time (leases),
        and that poller wrote or read the row itself. When another writer did store a change meanwhile (a
        lease that moved away and back, an import), the sighting's conditional write in ``flush`` does not
        apply and drops this record, so the next poll reads the row and the locked path stores the
        change: a document that differs from the stored one is stored at most one poll late.
        No read either when this process last stored or saw another hash: the content has most likely
        changed, and the locked path compares under the lock anyway.
        """
        known = self._known.get(source.slug)
        if known is not None:
            if known[0] != prepared.hash:
                return None
            self._note_sighting(source.slug, known[0], known[1], fetched_at, meta)
            return RecordResult(changed=False, hash=prepared.hash, metrics=prepared.metrics, sequence=known[1], diff=[])
        # Raw SQL, the times compared by the database as the ORM's filters would.
        connection = connections[self.using]
        at = connection.ops.adapt_datetimefield_value(fetched_at)
        with connection.cursor() as cursor:
            cursor.execute(
                _sql(
                    connection,
                    "SELECT hash, sequence, fetched_at <= %s, last_seen_at < %s FROM {latest} WHERE source = %s",
                ),
                [at, at, source.slug],
            )
            row = cursor.fetchone()
        if row is None or row[0] != prepared.hash or not row[2]:
            return None  # new content, no row yet, or an older poll: the locked path decides
        digest, sequence, _current, seen_earlier = row
        self._known[source.slug] = (digest, sequence)
        if seen_earlier:
            self._note_sighting(source.slug, digest, sequence, fetched_at, meta)
        return RecordResult(changed=False, hash=prepared.hash, metrics=prepared.metrics, sequence=sequence, diff=[])

    def _note_sighting(self, slug: str, digest: str, sequence: int, fetched_at: datetime, meta: JsonObject) -> None:
        """Hold an unchanged sighting for ``flush``: the newest one per source."""
        if self._seen is None:
            return
        with self._seen_lock:
            held = self._seen.get(slug)
            if held is None or held[2] < fetched_at:
                self._seen[slug] = (digest, sequence, fetched_at, meta)

    def _record_locked(
        self, source: SourceSpec, prepared: PreparedPayload, fetched_at: datetime, meta: JsonObject
    ) -> tuple[RecordResult, tuple[str, int]]:
        """Compare under the row lock and store a change: raw SQL, each value adapted by its model field
        exactly as the ORM adapts it (the same rows, without compiling four statements per change)."""
        db = self.using
        connection = connections[db]
        at = connection.ops.adapt_datetimefield_value(fetched_at)
        # SQLite has no FOR UPDATE: its write lock is taken at BEGIN (transaction_mode=IMMEDIATE).
        read = _LOCKED_READ if connection.features.has_select_for_update else _READ
        with _change_transaction(connection) as cursor:
            # Loaded with its payload: this path nearly always stores a change, and the diff needs the
            # old document (deferring it cost a second round trip inside the lock). On PostgreSQL the same
            # statement lets this transaction's commit skip the WAL flush unless METRICS_SYNCHRONOUS_COMMIT
            # (metrics/stores/durability.py; a source's very first row, with no row to read, waits).
            cursor.execute(
                _sql(connection, read, relax=relax_column(connection)),
                [at, at, source.slug],
            )
            latest = cursor.fetchone()
            if latest is None:
                LatestSnapshot.objects.using(db).create(
                    source=source.slug,
                    hash=prepared.hash,
                    payload=prepared.payload,
                    metrics=prepared.metrics,
                    fetched_at=fetched_at,
                    last_seen_at=fetched_at,
                    sequence=1,
                    poll_meta=meta,
                )
                self._append_history(
                    cursor,
                    source.slug,
                    1,
                    prepared,
                    fetched_at,
                    _json_param(HistoryEntryRow, "diff", [], connection),
                    _DocumentParams.of(connection, prepared),
                )
                first = RecordResult(changed=True, hash=prepared.hash, metrics=prepared.metrics, sequence=1, diff=[])
                return first, (prepared.hash, 1)
            pk, digest, stored_payload, stored_sequence, stale, seen_earlier = latest[:6]

            if stale:
                # A slow poll finishing after a newer one: its content is already outdated.
                logger.info("ignored a stale record of %s fetched at %s", source.slug, fetched_at.isoformat())
                outdated = RecordResult(
                    changed=False, hash=prepared.hash, metrics=prepared.metrics, sequence=stored_sequence, diff=[]
                )
                return outdated, (digest, stored_sequence)

            meta_param = _json_param(LatestSnapshot, "poll_meta", meta, connection)
            if digest == prepared.hash:
                if seen_earlier:
                    cursor.execute(
                        _sql(connection, "UPDATE {latest} SET last_seen_at = %s, poll_meta = %s WHERE id = %s"),
                        [at, meta_param, pk],
                    )
                same = RecordResult(
                    changed=False, hash=prepared.hash, metrics=prepared.metrics, sequence=stored_sequence, diff=[]
                )
                return same, (digest, stored_sequence)

            sequence = stored_sequence + 1
            payload_field: Any = LatestSnapshot._meta.get_field("payload")  # the ORM's own decoding of the column
            old = payload_field.from_db_value(stored_payload, None, connection)
            diff = diff_payloads(old, prepared.payload, source.volatile_paths)
            dicts = diff_to_json(diff)
            diff_param = _json_param(HistoryEntryRow, "diff", dicts, connection)
            document = _DocumentParams.of(connection, prepared)
            if connection.vendor == "postgresql":
                self._store_change_at_once(
                    cursor, pk, sequence, prepared.hash, document, fetched_at, diff_param, meta_param
                )
            else:
                cursor.execute(
                    _sql(connection, _UPDATE_CHANGED + "WHERE id = %s", json=json_cast(connection)),
                    [*_changed_values(prepared, document, at, sequence, meta_param), pk],
                )
                self._append_history(cursor, source.slug, sequence, prepared, fetched_at, diff_param, document)
            changed = RecordResult(
                changed=True,
                hash=prepared.hash,
                metrics=prepared.metrics,
                sequence=sequence,
                diff=diff,
                diff_dicts=dicts,
            )
            return changed, (prepared.hash, sequence)

    def _append_history(
        self,
        cursor: Any,
        slug: str,
        sequence: int,
        prepared: PreparedPayload,
        fetched_at: datetime,
        diff_param: Any,
        document: _DocumentParams,
    ) -> None:
        """The history entry and its metric samples, one INSERT each, in the caller's transaction; ``diff_param``
        is the diff as its column's parameter (``_json_param``)."""
        connection = connections[self.using]
        at = connection.ops.adapt_datetimefield_value(fetched_at)
        cursor.execute(
            _sql(
                connection,
                "INSERT INTO {history} (source, sequence, hash, payload, metrics, diff, fetched_at) "
                "VALUES (%s, %s, %s, %s, %s{json}, %s, %s)",
                json=json_cast(connection),
            ),
            [
                slug,
                sequence,
                prepared.hash,
                document.payload,
                document.metrics,
                diff_param,
                at,
            ],
        )
        if not prepared.metrics:
            return
        # One statement of a fixed text and six parameters, whatever the number of metrics: the samples go
        # as two arrays (PostgreSQL) or one JSON object (SQLite) that the database unpacks into rows. A
        # VALUES list had one text per metric count and six parameters a row: past the 50 parameters whose
        # parsing psycopg caches (it re-parsed every change's statement), and one more text for SQLite's
        # statement cache to hold per kind of source.
        epoch = int(fetched_at.timestamp())
        if connection.vendor == "postgresql":
            cursor.execute(
                _sql(
                    connection,
                    "INSERT INTO {sample} (source, metric, sequence, fetched_at, epoch, value) "
                    "SELECT %s, m.name, %s, %s, %s, m.value FROM unnest(%s::text[], %s::float8[]) AS m(name, value)",
                ),
                [slug, sequence, at, epoch, list(prepared.metrics), [float(v) for v in prepared.metrics.values()]],
            )
            return
        cursor.execute(
            _sql(
                connection,
                "INSERT INTO {sample} (source, metric, sequence, fetched_at, epoch, value) "
                "SELECT %s, m.key, %s, %s, %s, m.value FROM json_each(%s) AS m",
            ),
            [slug, sequence, at, epoch, document.metrics],
        )

    def _store_change_at_once(
        self,
        cursor: Any,
        pk: int,
        sequence: int,
        digest: str,
        document: _DocumentParams,
        fetched_at: datetime,
        diff_param: Any,
        meta_param: Any,
    ) -> None:
        """PostgreSQL: a change's three writes as one statement (``_CHANGE``). The history row takes the
        document and metrics from the updated latest row, so the server reads each once instead of twice (the
        metrics parsed into jsonb; the document is text, where its parse into jsonb was the largest part of a
        change's server time), and the statement is parsed, bound and executed once instead of three times."""
        connection = connections[self.using]
        at = connection.ops.adapt_datetimefield_value(fetched_at)
        cursor.execute(
            _sql(connection, _CHANGE),
            {
                "hash": digest,
                "payload": document.payload,
                "metrics": document.metrics,
                "at": at,
                "sequence": sequence,
                "meta": meta_param,
                "pk": pk,
                "diff": diff_param,
                "epoch": int(fetched_at.timestamp()),
            },
        )

    def prune(self, source: str | None, before: datetime) -> int:
        before = aware_utc(before, "before")

        def run() -> int:
            history = HistoryEntryRow.objects.using(self.using).filter(fetched_at__lt=before)
            samples = MetricSample.objects.using(self.using).filter(fetched_at__lt=before)
            if source is not None:
                history = history.filter(source=source)
                samples = samples.filter(source=source)
            with transaction.atomic(using=self.using):
                samples.delete()
                deleted, _ = history.delete()
            return deleted

        return self._guard(run, source or "all sources")

    def delete_source(self, source: str) -> None:
        self._known.pop(source, None)
        self._diff_bases.drop(source)

        def run() -> None:
            with transaction.atomic(using=self.using):
                MetricSample.objects.using(self.using).filter(source=source).delete()
                HistoryEntryRow.objects.using(self.using).filter(source=source).delete()
                MetricRollup.objects.using(self.using).filter(source=source).delete()
                self._delete_availability(source)
                LatestSnapshot.objects.using(self.using).filter(source=source).delete()

        self._guard(run, source)

    # --- reads -------------------------------------------------------------------------------

    def latest(self, source: str) -> Snapshot | None:
        row = self._guard(lambda: LatestSnapshot.objects.using(self.using).filter(source=source).first(), source)
        return None if row is None else _snapshot(row)

    def latest_all(self) -> dict[str, Snapshot]:
        rows = self._guard(lambda: list(LatestSnapshot.objects.using(self.using).order_by("source")), "all sources")
        return {row.source: _snapshot(row) for row in rows}

    def latest_sources(self) -> list[str]:
        query = LatestSnapshot.objects.using(self.using).values_list("source", flat=True)
        # Sorted here, not by the database: a PostgreSQL collation other than C orders "a-b", "a_b" and "ab"
        # otherwise, and the export's bytes would depend on it.
        return sorted(self._guard(lambda: list(query), "all sources"))

    def latest_heads(self) -> dict[str, SnapshotHead]:
        # The payload and poll metadata columns are left unread: they are what weighs.
        query = LatestSnapshot.objects.using(self.using).values_list(
            "source", "hash", "metrics", "fetched_at", "last_seen_at", "sequence"
        )
        rows = self._guard(lambda: list(query), "all sources")
        return {
            source: SnapshotHead(
                source=source,
                hash=digest,
                metrics=_metrics(metrics),
                fetched_at=fetched_at,
                last_seen_at=last_seen_at,
                sequence=sequence,
            )
            for source, digest, metrics, fetched_at, last_seen_at, sequence in rows
        }

    def latest_of(self, sources: Iterable[str]) -> dict[str, Snapshot]:
        wanted = source_slugs(sources)
        chunks = [wanted[at : at + LATEST_OF_CHUNK] for at in range(0, len(wanted), LATEST_OF_CHUNK)]
        latest = LatestSnapshot.objects.using(self.using)
        rows = self._guard(
            lambda: [row for chunk in chunks for row in latest.filter(source__in=chunk)],
            f"{len(wanted)} sources",
        )
        return {row.source: _snapshot(row) for row in rows}

    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        limit = history_limit(limit)
        rows = HistoryEntryRow.objects.using(self.using).filter(source=source)
        if start is not None:
            rows = rows.filter(fetched_at__gte=aware_utc(start, "start"))
        if end is not None:
            rows = rows.filter(fetched_at__lt=aware_utc(end, "end"))
        if cursor is not None:
            # Keyset pagination: "older than the last entry seen", so new entries never shift pages.
            at, sequence = decode_cursor(cursor)
            rows = rows.filter(Q(fetched_at__lt=at) | Q(fetched_at=at, sequence__lt=sequence))
        found = self._guard(lambda: list(rows.order_by("-fetched_at", "-sequence")[: limit + 1]), source)
        entries = [_history_entry(row) for row in found[:limit]]
        next_cursor = encode_cursor(entries[-1].fetched_at, entries[-1].sequence) if len(found) > limit else None
        return HistoryPage(entries=entries, next_cursor=next_cursor)

    def history_in_order(self, source: str, after: int | None = None, limit: int = 500) -> list[HistoryEntry]:
        limit = history_limit(limit)
        rows = HistoryEntryRow.objects.using(self.using).filter(source=source)
        if after is not None:
            rows = rows.filter(sequence__gt=after)
        found = self._guard(lambda: list(rows.order_by("sequence")[:limit]), source)
        return [_history_entry(row) for row in found]

    def series(self, source: str, metric: str, start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
        start, end = aware_utc(start, "start"), aware_utc(end, "end")
        width = bucket_seconds(bucket, start, end)
        tier = self._series_tier(source, metric, start)
        if tier != "raw":
            # Raw samples no longer reach back to start: answer from the finest rollup tier that does.
            return to_series(self.rollups(source, tier, start, end, metric=metric), start, end, bucket)
        # Integer arithmetic on the epoch column written at record time: the same SQL on SQLite and
        # PostgreSQL, no date functions, no JSON. A rollup tier (issue 8) can answer the same shape.
        bucket_start = ExpressionWrapper(F("epoch") - F("epoch") % width, output_field=BigIntegerField())
        query = (
            MetricSample.objects.using(self.using)
            .filter(source=source, metric=metric, fetched_at__gte=start, fetched_at__lt=end)
            .annotate(bucket=bucket_start)
            .values("bucket")
            .annotate(low=Min("value"), scaled=Sum(_SCALED_VALUE), high=Max("value"), n=Count("id"))
            .order_by("bucket")
        )
        rows = self._guard(lambda: list(query), source)
        return [
            SeriesBucket(
                start=_from_epoch(int(row["bucket"])),
                min=float(row["low"]),
                avg=total / int(row["n"]),
                max=float(row["high"]),
                count=int(row["n"]),
            )
            for row in rows
            if (total := _unscaled(row["scaled"])) is not None
        ]

    def series_many(
        self, keys: Sequence[SeriesKey], start: datetime, end: datetime, bucket: timedelta, tier: str
    ) -> dict[SeriesKey, list[SeriesBucket]]:
        start, end, width = series_many_args(keys, start, end, bucket, tier)
        wanted = list(dict.fromkeys(keys))
        result: dict[SeriesKey, list[SeriesBucket]] = {key: [] for key in wanted}
        if not wanted:
            return result
        # IN lists, which the (source, metric, fetched_at) index serves, rather than an OR of pairs; keys that
        # are not a full cross product read a few series too many, dropped below.
        pairs = Q(source__in=sorted({k.source for k in wanted}), metric__in=sorted({k.metric for k in wanted}))
        samples = MetricSample.objects.using(self.using).filter(pairs, fetched_at__gte=start, fetched_at__lt=end)
        if tier == "raw":
            bucket_start_epoch = ExpressionWrapper(F("epoch") - F("epoch") % width, output_field=BigIntegerField())
            query = (
                samples.annotate(bucket=bucket_start_epoch)
                .values("source", "metric", "bucket")
                .annotate(low=Min("value"), scaled=Sum(_SCALED_VALUE), high=Max("value"), n=Count("id"))
                .order_by("source", "metric", "bucket")
            )
            for row in self._guard(lambda: list(query), "series_many"):
                if (key := SeriesKey(row["source"], row["metric"])) not in result:
                    continue
                if (total := _unscaled(row["scaled"])) is None:
                    continue
                result[key].append(
                    SeriesBucket(
                        start=_from_epoch(int(row["bucket"])),
                        min=float(row["low"]),
                        avg=total / int(row["n"]),
                        max=float(row["high"]),
                        count=int(row["n"]),
                    )
                )
            return result
        sources = sorted({k.source for k in wanted})
        metrics = sorted({k.metric for k in wanted})
        rows = self._guard(lambda: self._rollup_rows(sources, metrics, tier, start, end, width), "series_many")
        for source, metric, bucket_epoch, n, low, high, scaled in rows:
            found = result.get(SeriesKey(source, metric))
            if found is not None and n and (total := _unscaled(scaled)) is not None:
                found.append(
                    SeriesBucket(
                        start=_from_epoch(int(bucket_epoch)),
                        min=float(low),
                        avg=total / int(n),
                        max=float(high),
                        count=int(n),
                    )
                )
        return result

    def _rollup_rows(
        self, sources: list[str], metrics: list[str], tier: str, start: datetime, end: datetime, width: int
    ) -> list[tuple[str, str, int, int, float, float, float]]:
        """One statement, bucketed in the database: the tier's buckets of the series, and (UNION ALL) each
        series' samples after its newest bucket's last sample (what the next rollup run has not reached
        yet), grouped together into ``width``-second buckets by epoch arithmetic; oldest first. The sum is
        scaled by ``SUM_SCALE`` (``_unscaled``).

        Raw SQL for the join to each series' newest bucket (``newest``): a correlated subquery instead is
        evaluated once per sample row. When every series has buckets, the samples are read from the
        oldest of those newest buckets on, so the index skips the rolled-up history.
        """
        connection = connections[self.using]
        ops = connection.ops
        rollup, sample = ops.quote_name(MetricRollup._meta.db_table), ops.quote_name(MetricSample._meta.db_table)
        # A rollup bucket's start in epoch seconds (samples carry theirs in ``epoch``); SQLite keeps naive UTC text.
        if connection.vendor == "sqlite":
            start_epoch = "CAST(strftime('%%s', start) AS INTEGER)"
        else:
            start_epoch = "CAST(EXTRACT(EPOCH FROM start) AS BIGINT)"
        in_sources = ", ".join(["%s"] * len(sources))
        in_metrics = ", ".join(["%s"] * len(metrics))
        keys = f"source IN ({in_sources}) AND metric IN ({in_metrics})"
        low, high = ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end)
        first_bucket = ops.adapt_datetimefield_value(bucket_start(start, tier))
        # Only quoted table names, fixed expressions and placeholders are formatted in; values are parameters.
        sql = f"""
            WITH newest AS (
                SELECT source, metric, MAX(last_at) AS rolled FROM {rollup}
                WHERE tier = %s AND {keys} GROUP BY source, metric
            ),
            parts AS (
                SELECT source, metric, {start_epoch} AS at, count AS n, min AS lo, max AS hi, sum AS total
                FROM {rollup}
                WHERE tier = %s AND {keys} AND start >= %s AND start < %s
                UNION ALL
                SELECT s.source, s.metric, s.epoch, 1, s.value, s.value, s.value
                FROM {sample} s LEFT JOIN newest r ON r.source = s.source AND r.metric = s.metric
                WHERE s.source IN ({in_sources}) AND s.metric IN ({in_metrics})
                  AND s.fetched_at >= %s AND s.fetched_at < %s
                  AND s.fetched_at >= COALESCE(
                      (SELECT CASE WHEN COUNT(*) = %s THEN MIN(rolled) END FROM newest), %s)
                  AND (r.rolled IS NULL OR s.fetched_at > r.rolled)
            )
            SELECT source, metric, at - at %% %s AS bucket, SUM(n), MIN(lo), MAX(hi), SUM(total * %s)
            FROM parts GROUP BY source, metric, at - at %% %s ORDER BY source, metric, bucket
        """  # noqa: S608
        params = [
            tier, *sources, *metrics,
            tier, *sources, *metrics, first_bucket, high,
            *sources, *metrics, low, high, len(sources) * len(metrics), low,
            width, SUM_SCALE, width,
        ]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _series_tier(self, source: str, metric: str, start: datetime) -> str:
        """The finest tier covering ``start`` (metrics.rollups.finest_covering_tier); one indexed read per tier."""

        def run() -> str:
            oldest: dict[str, datetime | None] = {
                "raw": MetricSample.objects.using(self.using)
                .filter(source=source, metric=metric)
                .order_by("fetched_at")
                .values_list("fetched_at", flat=True)
                .first()
            }
            if oldest["raw"] is not None and oldest["raw"] <= start:
                return "raw"  # the common case: a recent range, answered without looking at rollups
            rollups = MetricRollup.objects.using(self.using).filter(source=source, metric=metric)
            for tier in TIERS:
                oldest[tier] = rollups.filter(tier=tier).aggregate(oldest=Min("start"))["oldest"]
            return finest_covering_tier(start, oldest)

        return self._guard(run, source)

    # --- rollups and restore (retention, export and import: metrics/lifecycle/) -------------------

    def write_rollups(self, buckets: Sequence[RollupBucket]) -> int:
        rows = [_rollup_row(b) for b in buckets]
        if not rows:
            return 0

        def run() -> int:
            with transaction.atomic(using=self.using):
                MetricRollup.objects.using(self.using).bulk_create(
                    rows,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["source", "metric", "tier", "start"],
                    update_fields=["count", "min", "max", "sum", "last", "last_at"],
                )
            return len(rows)

        return self._write(run, "rollups")

    def add_rollups(self, buckets: Sequence[RollupBucket]) -> int:
        if not buckets:
            return 0

        def run() -> int:
            added = 0
            with transaction.atomic(using=self.using):
                groups: dict[tuple[str, str], list[RollupBucket]] = {}
                for bucket in buckets:
                    groups.setdefault((bucket.source, bucket.tier), []).append(bucket)
                for (source, tier), group in groups.items():
                    # The stored keys among the group's metrics and starts (a superset of its keys: a few rows).
                    stored = set(
                        MetricRollup.objects.using(self.using)
                        .filter(
                            source=source,
                            tier=tier,
                            metric__in={b.metric for b in group},
                            start__in={aware_utc(b.start, "start") for b in group},
                        )
                        .values_list("metric", "start")
                    )
                    missing = {(b.metric, b.start): b for b in group if (b.metric, b.start) not in stored}
                    # ignore_conflicts: a bucket written by a rollup run since the read above is kept too.
                    MetricRollup.objects.using(self.using).bulk_create(
                        [_rollup_row(b) for b in missing.values()], batch_size=500, ignore_conflicts=True
                    )
                    added += len(missing)
            return added

        return self._write(run, "rollups")

    def rollups(
        self,
        source: str,
        tier: str,
        start: datetime | None = None,
        end: datetime | None = None,
        metric: str | None = None,
    ) -> list[RollupBucket]:
        rows = MetricRollup.objects.using(self.using).filter(source=source, tier=tier)
        if start is not None:
            rows = rows.filter(start__gte=aware_utc(start, "start"))
        if end is not None:
            rows = rows.filter(start__lt=aware_utc(end, "end"))
        if metric is not None:
            rows = rows.filter(metric=metric)
        found = self._guard(lambda: list(rows.order_by("metric", "start")), source)
        return [_rollup_bucket(r) for r in found]

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
        # One statement for all sources (IN lists the unique (source, metric, tier, start) index serves),
        # in chunks only for fleets beyond what SQLite binds in one statement.
        rows = MetricRollup.objects.using(self.using).filter(tier=tier, metric=metric)
        if start is not None:
            rows = rows.filter(start__gte=aware_utc(start, "start"))
        if end is not None:
            rows = rows.filter(start__lt=aware_utc(end, "end"))
        if starts is not None:
            rows = rows.filter(start__in=sorted({aware_utc(s, "starts") for s in starts}))

        def read(chunk: list[str]) -> list[MetricRollup]:
            return list(rows.filter(source__in=chunk).order_by("source", "start"))

        found: list[MetricRollup] = []
        for offset in range(0, len(wanted), MAX_SOURCES_PER_STATEMENT):
            chunk = wanted[offset : offset + MAX_SOURCES_PER_STATEMENT]
            found.extend(self._guard(partial(read, chunk), f"rollups of {len(chunk)} sources"))
        return [_rollup_bucket(r) for r in found]

    def good_minutes_of(
        self,
        sources: Sequence[str],
        metric: str,
        comparison: str,
        bound: float,
        spans: Sequence[tuple[datetime, datetime]],
    ) -> list[tuple[int, int]]:
        check_comparison(comparison)
        checked = [(aware_utc(low, "start"), aware_utc(high, "end")) for low, high in spans]
        counts = [[0, 0] for _ in checked]
        wanted = sorted(set(sources))
        if not wanted or not checked:
            return [(0, 0)] * len(checked)
        # metrics.rollups.meets in SQL: the mean as Python divides it (IEEE doubles on both databases), and no
        # division by a count of 0 (NULL: not good), which PostgreSQL may evaluate before any other condition.
        mean = ExpressionWrapper(F("sum") / NullIf(F("count"), 0), output_field=FloatField())
        meets_bound = _SQL_COMPARISONS[comparison](mean, Value(float(bound), output_field=FloatField()))
        counted: dict[str, Count] = {}
        for index, (low, high) in enumerate(checked):
            inside = Q(start__gte=low, start__lt=high)
            counted[f"total{index}"] = Count("pk", filter=inside)
            counted[f"good{index}"] = Count("pk", filter=inside & Q(meets_bound))
        rows = MetricRollup.objects.using(self.using).filter(
            tier="1m",
            metric=metric,
            start__gte=min(low for low, _ in checked),
            start__lt=max(high for _, high in checked),
        )

        def count(chunk: list[str]) -> dict[str, Any]:
            return rows.filter(source__in=chunk).aggregate(**counted)

        for offset in range(0, len(wanted), MAX_SOURCES_PER_STATEMENT):
            chunk = wanted[offset : offset + MAX_SOURCES_PER_STATEMENT]
            found = self._guard(partial(count, chunk), f"good minutes of {len(chunk)} sources")
            for index, pair in enumerate(counts):
                pair[0] += int(found[f"good{index}"] or 0)
                pair[1] += int(found[f"total{index}"] or 0)
        return [(good, total) for good, total in counts]

    def latest_rollup_start(self, source: str, tier: str) -> datetime | None:
        rows = MetricRollup.objects.using(self.using).filter(source=source, tier=tier)
        newest: datetime | None = self._guard(lambda: rows.aggregate(newest=Max("start"))["newest"], source)
        return newest

    def prune_rollups(self, source: str | None, tier: str, before: datetime) -> int:
        rows = MetricRollup.objects.using(self.using).filter(tier=tier, start__lt=aware_utc(before, "before"))
        if source is not None:
            rows = rows.filter(source=source)
        return self._write(lambda: rows.delete()[0], source or "all sources")

    def restore_history(self, entries: Sequence[HistoryEntry]) -> int:
        def run() -> int:
            added = 0
            with transaction.atomic(using=self.using):
                for slug in sorted({e.source for e in entries}):
                    mine = [e for e in entries if e.source == slug]
                    present = set(
                        HistoryEntryRow.objects.using(self.using)
                        .filter(source=slug, sequence__in=[e.sequence for e in mine])
                        .values_list("sequence", flat=True)
                    )
                    for entry in mine:
                        if entry.sequence in present:
                            continue
                        present.add(entry.sequence)
                        fetched_at = aware_utc(entry.fetched_at, "fetched_at")
                        HistoryEntryRow.objects.using(self.using).create(
                            source=slug,
                            sequence=entry.sequence,
                            hash=entry.hash,
                            payload=entry.payload,
                            metrics=entry.metrics,
                            diff=diff_to_json(entry.diff),
                            fetched_at=fetched_at,
                        )
                        MetricSample.objects.using(self.using).bulk_create(
                            MetricSample(
                                source=slug,
                                metric=name,
                                sequence=entry.sequence,
                                fetched_at=fetched_at,
                                epoch=int(fetched_at.timestamp()),
                                value=value,
                            )
                            for name, value in entry.metrics.items()
                        )
                        added += 1
            return added

        return self._write(run, "restore")

    def restore_latest(self, snapshot: Snapshot) -> bool:
        def run() -> bool:
            with transaction.atomic(using=self.using):
                current = LatestSnapshot.objects.using(self.using).select_for_update().filter(source=snapshot.source)
                row = current.first()
                if row is not None and not replaces_latest(row.sequence, row.hash, row.last_seen_at, snapshot):
                    return False  # the store moved on since the export (or holds other content): keep it
                LatestSnapshot.objects.using(self.using).update_or_create(
                    source=snapshot.source,
                    defaults={
                        "hash": snapshot.hash,
                        "payload": snapshot.payload,
                        "metrics": snapshot.metrics,
                        "fetched_at": aware_utc(snapshot.fetched_at, "fetched_at"),
                        "last_seen_at": aware_utc(snapshot.last_seen_at, "last_seen_at"),
                        "sequence": snapshot.sequence,
                        "poll_meta": snapshot.poll_meta,
                    },
                )
                return True

        return self._write(run, snapshot.source)

    def _write(self, operation: Callable[[], T], what: str) -> T:
        """A write outside record(): the same SQLite serialization, the same error translation."""
        if connections[self.using].vendor == "sqlite":
            with sqlite_write_lock(self.using):
                return self._guard(operation, what)
        return self._guard(operation, what)

    def stats(self) -> StoreStats:
        def run() -> StoreStats:
            history = HistoryEntryRow.objects.using(self.using)
            bounds = history.aggregate(oldest=Min("fetched_at"), newest=Max("fetched_at"))
            return StoreStats(
                backend=self.backend,
                history_count=history.count(),
                latest_count=LatestSnapshot.objects.using(self.using).count(),
                oldest=bounds["oldest"],
                newest=bounds["newest"],
                size_bytes=self._size_bytes(),
            )

        return self._guard(run, "stats")

    def _size_bytes(self) -> int | None:
        tables = [m._meta.db_table for m in (LatestSnapshot, HistoryEntryRow, MetricSample)]
        connection = connections[self.using]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT SUM(pg_total_relation_size(t::regclass)) FROM unnest(%s::text[]) AS t", [tables])
                row = cursor.fetchone()
                return int(row[0]) if row and row[0] is not None else None
            if connection.vendor == "sqlite":
                # dbstat is compiled into most SQLite builds but not all; without it the size is unknown.
                try:
                    with transaction.atomic(using=self.using):
                        placeholders = ",".join("%s" for _ in tables)
                        cursor.execute(f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({placeholders})", tables)  # noqa: S608 - placeholders only
                        row = cursor.fetchone()
                except DatabaseError:
                    return None
                return int(row[0]) if row and row[0] is not None else None
        return None

    # --- helpers -----------------------------------------------------------------------------

    def _guard(self, operation: Callable[[], T], what: str) -> T:
        """Run a database operation; a database failure becomes a StoreError callers can count and retry."""
        try:
            return operation()
        except DatabaseError as exc:
            connection = connections[self.using]
            if not connection.in_atomic_block:
                # A long-running poller has no request cycle to drop a dead connection (server restart,
                # network cut): drop it here so the caller's retry reconnects instead of failing forever.
                connection.close_if_unusable_or_obsolete()
            raise StoreError(f"SQL metric store ({self.using}) failed for {what}: {type(exc).__name__}: {exc}") from exc


# The latest row under the lock, with its payload (for the diff) and the comparisons of times done by the
# database exactly as the ORM's filters would do them.
_READ = "SELECT id, hash, payload, sequence, fetched_at > %s, last_seen_at < %s{relax} FROM {latest} WHERE source = %s"
_LOCKED_READ = _READ + " FOR UPDATE"
# A change's update of the latest row (its WHERE follows), and the history row and the metric samples read off
# the updated row by a data-modifying WITH: the samples are its metrics object unpacked (every metric value is a
# finite number, so its JSON text turns back into the same float8), where two arrays of names and values cost
# their adaptation in Python.
_UPDATE_LATEST = (
    "UPDATE {latest} SET hash = %(hash)s, payload = %(payload)s, metrics = %(metrics)s::jsonb, "
    "fetched_at = %(at)s, last_seen_at = %(at)s, sequence = %(sequence)s, poll_meta = %(meta)s "
)
_RETURNED = "RETURNING source, sequence, hash, payload, metrics, fetched_at"
_INSERT_HISTORY = (
    "INSERT INTO {history} (source, sequence, hash, payload, metrics, diff, fetched_at) "
    "SELECT source, sequence, hash, payload, metrics, %(diff)s, fetched_at FROM changed"
)
_INSERT_SAMPLES = (
    "INSERT INTO {sample} (source, metric, sequence, fetched_at, epoch, value) "
    "SELECT changed.source, m.key, changed.sequence, changed.fetched_at, %(epoch)s, m.value::float8 "
    "FROM changed, jsonb_each_text(changed.metrics) AS m"
)
# PostgreSQL: a change's three writes as one statement, on the row the locked read found
# (``SqlMetricStore._store_change_at_once``).
_CHANGE = (
    f"WITH changed AS ({_UPDATE_LATEST}WHERE id = %(pk)s {_RETURNED}), entry AS ({_INSERT_HISTORY}) {_INSERT_SAMPLES}"
)
# PostgreSQL: the same writes for a change diffed against the document this process stored last
# (``SqlMetricStore._record_on_known_base``), outside any explicit transaction: only while the latest row
# still holds that document (hash and sequence) and no newer poll. It answers how many latest rows it
# updated (0 or 1), and lets its own commit skip the WAL flush as a change's locked read does.
_CHANGE_KNOWN = (
    f"WITH changed AS ({_UPDATE_LATEST}"  # noqa: S608 - fixed fragments, no values
    "WHERE source = %(source)s AND hash = %(old_hash)s AND sequence = %(old_sequence)s AND fetched_at <= %(at)s "
    f"{_RETURNED}), entry AS ({_INSERT_HISTORY}), samples AS ({_INSERT_SAMPLES}) "
    "SELECT count(*){relax} FROM changed"
)
# SQLite: a change's update of the latest row (its WHERE follows), with ``_changed_values`` as its parameters.
_UPDATE_CHANGED = (
    "UPDATE {latest} SET hash = %s, payload = %s, metrics = %s{json}, fetched_at = %s, last_seen_at = %s, "
    "sequence = %s, poll_meta = %s "
)
# SQLite: the same for a change diffed against the document this process stored last
# (``SqlMetricStore._record_on_known_base``), applied only while the row still holds that document and no newer poll.
_UPDATE_KNOWN = _UPDATE_CHANGED + "WHERE source = %s AND hash = %s AND sequence = %s AND fetched_at <= %s"
# An unchanged sighting held for ``flush``, as rows unpacked from arrays (metrics/stores/statement_shapes.py).
_SIGHTING_COLUMNS = (
    ("source", "text"),
    ("hash", "text"),
    ("sequence", "int8"),
    ("at", "timestamptz"),
    ("meta", "text"),
)


def _changed_values(
    prepared: PreparedPayload, document: _DocumentParams, at: Any, sequence: int, meta: Any
) -> list[Any]:
    """The parameters of ``_UPDATE_CHANGED``'s SET, in its order: ``at`` is both the fetch and the last sighting."""
    return [prepared.hash, document.payload, document.metrics, at, at, sequence, meta]


def _retrying(attempt: Callable[[], RecordResult]) -> RecordResult:
    """``attempt`` (a record), once more after an ``IntegrityError``: two writers raced to create the source's
    first row and the loser's transaction rolled back entirely. Now the row exists, so the retry locks it and
    compares as usual."""
    try:
        return attempt()
    except IntegrityError:
        return attempt()


def _sql(connection: Any, template: str, **fixed: str) -> str:
    """``template`` with ``{latest}``, ``{history}`` and ``{sample}`` as the quoted table names (and ``fixed``
    fragments of SQL, never values)."""
    quote = connection.ops.quote_name
    return template.format(
        latest=quote(LatestSnapshot._meta.db_table),
        history=quote(HistoryEntryRow._meta.db_table),
        sample=quote(MetricSample._meta.db_table),
        **fixed,
    )


def _change_transaction(connection: Any) -> AbstractContextManager[Any]:
    """The transaction of ``_record_locked``, and a cursor for its statements.

    On PostgreSQL, outside a caller's transaction, in two round trips: ``_pipelined_transaction``. Inside
    a caller's transaction (a savepoint), with autocommit turned off by hand, or on SQLite, Django's
    ``atomic``, pipelined on PostgreSQL."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block and connection.get_autocommit():
        return _pipelined_transaction(connection)
    return _atomic_cursor(connection)


@contextmanager
def _atomic_cursor(connection: Any) -> Iterator[Any]:
    with transaction.atomic(using=connection.alias), _pipelined(connection), bound_cursor(connection) as cursor:
        yield cursor


@contextmanager
def _pipelined_transaction(connection: Any) -> Iterator[Any]:
    """PostgreSQL: ``BEGIN``, the body's statements and ``COMMIT`` in psycopg's pipeline mode, so that a change
    costs two round trips: ``BEGIN`` with the locked read (the read waits for its answer), then the writes with
    the ``COMMIT``, answered together when the pipeline ends.

    Why not Django's ``atomic``: it turns autocommit off, and psycopg then starts the transaction with a
    ``BEGIN`` that it syncs on its own in pipeline mode, a round trip of its own (on a loopback connection a
    round trip is a third of a change's database time). Here the connection stays in autocommit and the
    transaction is the statements' own. A failure anywhere (a write the server refuses, which the pipeline
    reports at its end; an error in the body, a diff's, say) rolls the whole transaction back before the
    error goes on, so nothing of the change is stored and the session is idle again. Django's own
    transaction state is untouched: the ORM statements the body may run (a source's first row) run inside
    this transaction, as they would inside ``atomic``."""
    connection.ensure_connection()
    try:
        with _wrapped_pipeline(connection), bound_cursor(connection) as cursor:
            cursor.execute("BEGIN")
            yield cursor
            cursor.execute("COMMIT")
    except BaseException:
        _roll_back_after_failure(connection)
        raise


def _roll_back_after_failure(connection: Any) -> None:
    """End the failed transaction of ``_pipelined_transaction``, if the connection still has one."""
    raw = connection.connection
    if raw is None or raw.closed:
        return
    try:
        with connection.wrap_database_errors:
            raw.rollback()  # sends ROLLBACK only when a transaction is open (psycopg checks the session)
    except DatabaseError:
        # The connection is broken (the error being raised says why): the store's guard closes it.
        logger.debug("rollback after a failed change did not complete", exc_info=True)


def _pipelined(connection: Any) -> AbstractContextManager[Any]:
    """On PostgreSQL, psycopg's pipeline mode for the rest of a transaction: statements whose results are not
    read (a change's update and inserts) go out together and are answered together at the commit, one
    round trip instead of one each; a read (``fetchone``) still waits for its answer. An error in any of
    them is raised at the latest by the commit, which then rolls the whole transaction back as before."""
    if connection.vendor == "postgresql":
        return _wrapped_pipeline(connection)
    return nullcontext()


@contextmanager
def _wrapped_pipeline(connection: Any) -> Iterator[Any]:
    # The pipeline reports a failed write when it syncs on exit, outside Django's cursor: wrapped here, the
    # error reaches the store as Django's DatabaseError (a StoreError for the caller), not a bare psycopg one.
    with connection.wrap_database_errors, _PipelineMode(connection.connection) as pipeline:
        yield pipeline


class _PipelineMode:
    """psycopg's pipeline mode for a block, ended as after a block that succeeded even when it raised.

    Ending a block that raised, psycopg's ``Pipeline.__exit__`` syncs and logs the sync's own error (the statements
    the block's failure aborted: ``PipelineAborted``) instead of raising it. That error is kept in a local
    (``exception``) of psycopg's ``_communicate_gen`` frame, which its traceback holds: a reference cycle, and as
    each frame holds its caller's, one that kept every frame running then, a poll's document and the change's
    parameters among them, until the collector's next pass (docs/operations.md). It happened whenever the
    refused write's answer came back during one of the block's later statements, so in about half the refused
    changes. Ended without the block's exception, psycopg raises that error instead, without the traceback
    that closed the cycle; it is the block's failure seen again, so it is dropped, detached, and the block's
    exception goes on."""

    def __init__(self, raw: Any) -> None:
        self._pipeline = raw.pipeline()

    def __enter__(self) -> Any:
        return self._pipeline.__enter__()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            self._pipeline.__exit__(None, None, None)
        except Exception as ending:
            if exc_value is None:
                raise
            # Raised while the block's exception was being handled, so chained to it: detached up to it, the
            # exceptions psycopg made ending the pipeline keep no frame.
            link: BaseException | None = ending
            while link is not None and link is not exc_value:
                following = link.__context__
                detached(link)
                link = following


@dataclass(frozen=True)
class _DocumentParams:
    """A change's payload and metrics as column parameters, encoded once for both rows that hold them
    (the latest snapshot and the history entry)."""

    payload: Any
    metrics: Any

    @classmethod
    def of(cls, connection: Any, prepared: PreparedPayload) -> _DocumentParams:
        if connection.vendor == "postgresql":
            # The canonical JSON that prepare() already made for the hash serves as it is, where the field's
            # adapter would encode the document twice more: its column keeps that very text (metrics/fields.py).
            # The metrics' column is jsonb (cast by ``json_cast``): their values are doubles, read back by value.
            return cls(payload=prepared.canonical, metrics=canonical_json(prepared.metrics))
        # SQLite keeps the text: the field's own encoding, so the stored document reads back as the ORM's does.
        return cls(
            payload=_json_param(LatestSnapshot, "payload", prepared.payload, connection),
            metrics=_json_param(LatestSnapshot, "metrics", prepared.metrics, connection),
        )


@dataclass(frozen=True)
class _KnownChange:
    """A change from the document this process stored last, diffed and its columns encoded before any statement."""

    base: DiffBase
    diff: list[FieldChange]
    diff_dicts: list[JsonObject]  # the diff's JSON form (diff_to_json): the column's and the result's
    document: _DocumentParams
    meta: Any  # the poll meta, as its column's parameter
    diff_param: Any  # the diff, as its column's parameter


def json_cast(connection: Any) -> str:
    """What follows the placeholder of a jsonb column's text (metrics, poll meta): a cast on PostgreSQL. A
    document's column is text (metrics/fields.py): its placeholder takes none."""
    return "::jsonb" if connection.vendor == "postgresql" else ""


def _json_param(model: Any, name: str, value: Any, connection: Any) -> Any:
    """A JSON column's parameter, adapted by its model field exactly as the ORM's writes adapt it."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _unscaled(scaled: Any) -> float | None:
    """A sum taken scaled by ``SUM_SCALE``, scaled back; None when it is beyond a float (its bucket is left out)."""
    # 2.0**64 is 1 / SUM_SCALE; multiplied, not math.ldexp: beyond a float it is inf here, not OverflowError.
    total = float(scaled) * 2.0**64
    return total if math.isfinite(total) else None


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _metrics(stored: dict[str, Any]) -> dict[str, float]:
    """A metrics column's object as the doubles it was written from: jsonb prints a double of 1e16 or more
    as an integer (``1e+20`` as ``100000000000000000000``), and ``float`` turns that back into the same double
    (jsonb keeps the decimal it was given, Python's shortest round-tripping one)."""
    return {name: float(value) for name, value in stored.items()}


def _snapshot(row: LatestSnapshot) -> Snapshot:
    return Snapshot(
        source=row.source,
        hash=row.hash,
        payload=row.payload,
        metrics=_metrics(row.metrics),
        fetched_at=row.fetched_at,
        last_seen_at=row.last_seen_at,
        sequence=row.sequence,
        poll_meta=row.poll_meta,
    )


def _history_entry(row: HistoryEntryRow) -> HistoryEntry:
    return HistoryEntry(
        id=str(row.pk),
        source=row.source,
        hash=row.hash,
        payload=row.payload,
        metrics=_metrics(row.metrics),
        diff=diff_from_json(row.diff),
        fetched_at=row.fetched_at,
        sequence=row.sequence,
    )


def _rollup_row(bucket: RollupBucket) -> MetricRollup:
    return MetricRollup(
        source=bucket.source,
        metric=bucket.metric,
        tier=bucket.tier,
        start=bucket.start,
        count=bucket.count,
        min=bucket.min,
        max=bucket.max,
        sum=bucket.sum,
        last=bucket.last,
        last_at=bucket.last_at,
    )


def _rollup_bucket(row: MetricRollup) -> RollupBucket:
    return RollupBucket(
        source=row.source,
        metric=row.metric,
        tier=row.tier,
        start=row.start,
        count=row.count,
        min=row.min,
        max=row.max,
        sum=row.sum,
        last=row.last,
        last_at=row.last_at,
    )
