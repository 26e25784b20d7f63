"""The availability part of the SQL metric store (mixed into SqlMetricStore; contract: metrics.stores.base).

Rows are ``AvailabilityCount`` cells: (source, tier, bucket start, origin, latency bin, error kind)
-> count. A poll adds 1 to one cell per tier in ONE statement,
``INSERT ... VALUES (1m), (1h), (1d) ON CONFLICT (cell) DO UPDATE SET count = count + excluded.count``,
the same SQL on SQLite (3.24+) and PostgreSQL: no read before the write, no transaction beyond the
statement, and on PostgreSQL concurrent writers of one cell queue on its row lock instead of losing
an increment. Reads add the cells up in SQL (GROUP BY), so what comes back is at most one row per
latency bin and error kind per bucket (or per span for totals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connections, transaction
from django.db.models import QuerySet, Sum, Value

from metrics.availability import (
    BACKFILL,
    LIVE,
    NO_LATENCY,
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
    sample_cell,
)
from metrics.models import AvailabilityCount
from metrics.stores.arguments import aware_utc
from metrics.stores.base import AvailabilityBucket, AvailabilitySpan, PollSample
from metrics.stores.statement_shapes import bound_cursor, unpacked_rows

T = TypeVar("T")
KEY = ("source", "tier", "start", "origin", "latency_bin", "error_kind")
COLUMNS = (*KEY, "count")
# Each column's PostgreSQL type, for the rows unpacked from arrays (metrics/stores/statement_shapes.py).
COLUMN_TYPES = (
    ("source", "text"),
    ("tier", "text"),
    ("start", "timestamptz"),
    ("origin", "text"),
    ("latency_bin", "int2"),
    ("error_kind", "text"),
    ("count", "int4"),
)


class SqlAvailability:
    if TYPE_CHECKING:  # provided by SqlMetricStore
        using: str

        def _guard(self, operation: Callable[[], T], what: str) -> T: ...

        def _write(self, operation: Callable[[], T], what: str) -> T: ...

    # --- writes ------------------------------------------------------------------------------

    def record_poll_outcome(
        self, source: str, at: datetime, up: bool, latency_ms: float | None, error_kind: str = ""
    ) -> None:
        sample = check_sample(PollSample(at, up, latency_ms, error_kind))
        latency_bin, kind = sample_cell(sample)
        rows = [(source, tier, bucket_start(sample.at, tier), LIVE, latency_bin, kind, 1) for tier in TIERS]
        self._write(lambda: self._upsert(rows, add=True), f"availability of {source}")

    def record_poll_outcomes(self, outcomes: Sequence[tuple[str, PollSample]]) -> None:
        # Cells hit by several samples are summed first: one statement may not upsert a row twice.
        counts: dict[tuple[Any, ...], int] = {}
        for source, sample in outcomes:
            checked = check_sample(sample)
            latency_bin, kind = sample_cell(checked)
            for tier in TIERS:
                key = (source, tier, bucket_start(checked.at, tier), LIVE, latency_bin, kind)
                counts[key] = counts.get(key, 0) + 1
        rows = [(*key, count) for key, count in counts.items()]

        def run() -> None:
            self._upsert(rows, add=True)

        if rows:
            self._write(run, f"availability of {len(outcomes)} polls")

    def replace_backfilled_availability(self, source: str, since: datetime, samples: Iterable[PollSample]) -> int:
        since, checked = check_backfill(since, samples)
        rows = [
            (source, tier, start, BACKFILL, latency_bin, kind, count)
            for (tier, start), counts in sorted(count_samples(checked).items())
            for latency_bin, kind, count in counts.cells()
        ]

        def run() -> None:
            # One transaction: the old backfilled counts and the new ones are never both visible.
            with transaction.atomic(using=self.using):
                self._cells().filter(source=source, origin=BACKFILL, start__gte=since).delete()
                self._upsert(rows, add=False)

        self._write(run, f"backfilled availability of {source}")
        return len(checked)

    def prune_availability(self, source: str | None, tier: str, before: datetime, *, dry_run: bool = False) -> int:
        cells = self._cells().filter(tier=check_tier(tier), start__lt=aware_utc(before, "before"))
        if source is not None:
            cells = cells.filter(source=source)

        if dry_run:
            return self._guard(lambda: cells.values("source", "start").distinct().count(), f"availability of {source}")

        def run() -> int:
            with transaction.atomic(using=self.using):
                buckets = cells.values("source", "start").distinct().count()
                cells.delete()
            return buckets

        return self._write(run, f"availability prune of {source or 'all sources'}")

    def _upsert(self, rows: Sequence[tuple[Any, ...]], *, add: bool) -> None:
        """Insert cells in one statement of a fixed text; a cell already there gets the count added (``add``)
        or replaced. Each cell at most once in ``rows``: one statement may not upsert a row twice."""
        if not rows:
            return
        connection = connections[self.using]
        quote = connection.ops.quote_name
        table = quote(AvailabilityCount._meta.db_table)
        start_field = AvailabilityCount._meta.get_field("start")
        # The datetime as the ORM writes it (SQLite keeps text), so the conflict matches ORM rows.
        adapted = [(row[0], row[1], start_field.get_db_prep_value(row[2], connection), *row[3:]) for row in rows]
        select, params = unpacked_rows(connection, COLUMN_TYPES, adapted)
        count = quote("count")
        new_count = f"{table}.{count} + excluded.{count}" if add else f"excluded.{count}"
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(c) for c in COLUMNS)}) {select} WHERE true "
            f"ON CONFLICT ({', '.join(quote(c) for c in KEY)}) DO UPDATE SET {count} = {new_count}"
        )
        with bound_cursor(connection) as cursor:
            cursor.execute(sql, params)

    # --- reads -------------------------------------------------------------------------------

    def availability(
        self, source: str, tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> list[AvailabilityBucket]:
        span = check_span(AvailabilitySpan(tier, start, end))
        cells = self._cells().filter(source=source, tier=span.tier, start__gte=span.start, start__lt=span.end)
        if latency:
            query = cells.values_list("start", "latency_bin", "error_kind").annotate(n=Sum("count"))
        else:  # every up poll of a bucket in one row
            query = cells.values_list("start", Value(NO_LATENCY), "error_kind").annotate(n=Sum("count"))
        rows = self._guard(lambda: list(query.order_by("start")), f"availability of {source}")
        buckets: dict[datetime, Counts] = {}
        for moment, latency_bin, kind, count in rows:
            counts = buckets.get(moment)
            if counts is None:
                counts = buckets[moment] = Counts()
            counts.add_cell(int(latency_bin), kind, int(count))
        return [counts.bucket(moment, span.tier) for moment, counts in buckets.items()]

    def availability_of_sources(
        self, sources: Sequence[str], tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> dict[str, list[AvailabilityBucket]]:
        slugs = check_sources(sources)
        span = check_span(AvailabilitySpan(tier, start, end))
        if not slugs:
            return {}
        cells = self._cells().filter(source__in=slugs, tier=span.tier, start__gte=span.start, start__lt=span.end)
        bin_column = "latency_bin" if latency else Value(NO_LATENCY)
        query = cells.values_list("source", "start", bin_column, "error_kind").annotate(n=Sum("count"))
        rows = self._guard(lambda: list(query.order_by("source", "start")), f"availability of {len(slugs)} sources")
        found: dict[str, dict[datetime, Counts]] = {slug: {} for slug in slugs}
        for slug, moment, latency_bin, kind, count in rows:
            found[slug].setdefault(moment, Counts()).add_cell(int(latency_bin), kind, int(count))
        return {
            slug: [counts.bucket(moment, span.tier) for moment, counts in buckets.items()]
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
        if not checked or not sources:
            return [Counts().bucket(span.start, span.tier) for span in checked]
        # One statement for every span: a grouped SELECT per span, glued with UNION ALL. Written as SQL
        # (the same on SQLite and PostgreSQL) because the burn-rate rules run it on every poll, and
        # compiling the ORM's union of six grouped querysets cost several times the query itself.
        connection = connections[self.using]
        table = connection.ops.quote_name(AvailabilityCount._meta.db_table)
        marks = ", ".join(["%s"] * len(sources))
        where = f"source IN ({marks}) AND tier = %s AND start >= %s AND start < %s"
        total = f"SUM({connection.ops.quote_name('count')})"
        # Only placeholders and quoted names go into the text; every value is a parameter.
        select = (
            f"SELECT %s, latency_bin, error_kind, {total} FROM {table} WHERE {where} GROUP BY latency_bin, error_kind"  # noqa: S608
        )
        sql = " UNION ALL ".join([select] * len(checked))
        params: list[Any] = []
        for index, span in enumerate(checked):
            params += [index, *sources, span.tier]
            params += [connection.ops.adapt_datetimefield_value(span.start)]
            params += [connection.ops.adapt_datetimefield_value(span.end)]

        def run() -> list[tuple[Any, ...]]:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())

        found = self._guard(run, f"availability totals of {source}")
        rows = [{"span": r[0], "latency_bin": r[1], "error_kind": r[2], "n": r[3]} for r in found]
        totals = [Counts() for _ in checked]
        for row in rows:
            totals[int(row["span"])].add_cell(int(row["latency_bin"]), row["error_kind"], int(row["n"]))
        return [counts.bucket(span.start, span.tier) for counts, span in zip(totals, checked, strict=True)]

    def availability_counts_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[tuple[int, int]]:
        checked = check_spans(spans)
        sources = check_sources(sources)
        if not checked or not sources:
            return [(0, 0) for _ in checked]
        rows = self._counts_rows(sources, checked, by_source=False)
        row = rows[0] if rows else ()
        return [(int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i in range(len(checked))]

    def availability_counts_by_source(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> dict[str, list[tuple[int, int]]]:
        checked = check_spans(spans)
        sources = check_sources(sources)
        found = {slug: [(0, 0) for _ in checked] for slug in sources}
        if not checked or not sources:
            return found
        for slug, *sums in self._counts_rows(sources, checked, by_source=True):
            found[slug] = [(int(sums[2 * i] or 0), int(sums[2 * i + 1] or 0)) for i in range(len(checked))]
        return found

    def _counts_rows(
        self, sources: list[str], checked: list[AvailabilitySpan], *, by_source: bool
    ) -> list[tuple[Any, ...]]:
        """(polls, up) of every span as pairs of columns: one row, or one per source (first column) that has cells."""
        # One scan of the spans' union per tier, each span a pair of conditional sums (polls, up):
        # nested windows (5 m in 1 h in 6 h) share their rows instead of being read once per span.
        connection = connections[self.using]
        adapt = connection.ops.adapt_datetimefield_value
        count = connection.ops.quote_name("count")
        sums: list[str] = []
        params: list[Any] = []
        for span in checked:
            inside = "tier = %s AND start >= %s AND start < %s"
            sums.append(f"SUM(CASE WHEN {inside} THEN {count} ELSE 0 END)")
            sums.append(f"SUM(CASE WHEN {inside} AND error_kind = '' THEN {count} ELSE 0 END)")
            params += [span.tier, adapt(span.start), adapt(span.end)] * 2
        ranges: dict[str, tuple[datetime, datetime]] = {}
        for span in checked:
            low, high = ranges.get(span.tier, (span.start, span.end))
            ranges[span.tier] = (min(low, span.start), max(high, span.end))
        tiers = " OR ".join(["(tier = %s AND start >= %s AND start < %s)"] * len(ranges))
        for tier, (low, high) in ranges.items():
            params += [tier, adapt(low), adapt(high)]
        marks = ", ".join(["%s"] * len(sources))
        params += sources
        table = connection.ops.quote_name(AvailabilityCount._meta.db_table)
        columns = ", ".join(sums)
        sql = f"SELECT {columns} FROM {table} WHERE ({tiers}) AND source IN ({marks})"  # noqa: S608 - placeholders and quoted names only
        if by_source:
            sql = f"SELECT source, {columns} FROM {table} WHERE ({tiers}) AND source IN ({marks}) GROUP BY source"  # noqa: S608 - as above

        def run() -> list[tuple[Any, ...]]:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return [tuple(row) for row in cursor.fetchall()]

        return self._guard(run, f"availability counts of {', '.join(sources)[:200]}")

    def oldest_live_availability(self, source: str) -> dict[str, datetime | None]:
        def run() -> dict[str, datetime | None]:
            # One LIMIT 1 walk of the unique index per tier, rather than a MIN over every cell.
            live = self._cells().filter(source=source, origin=LIVE)
            return {
                tier: live.filter(tier=tier).order_by("start").values_list("start", flat=True).first() for tier in TIERS
            }

        return self._guard(run, f"availability of {source}")

    # --- helpers -----------------------------------------------------------------------------

    def _cells(self) -> QuerySet[AvailabilityCount]:
        return AvailabilityCount.objects.using(self.using)

    def _delete_availability(self, source: str) -> None:
        """Part of delete_source (inside its transaction)."""
        self._cells().filter(source=source).delete()
