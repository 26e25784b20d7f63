"""The store's hot multi-row writes have one SQL text whatever their row count (metrics/stores/statement_shapes.py).

A text per row count filled SQLite's per-connection statement cache with large programs and grew a
poller's memory, and on PostgreSQL made psycopg parse every such statement again. These tests count the
distinct texts of the availability upsert (one per health batch flush, a different number of cells nearly
every time) and of a change's metric samples (a different number of metrics per kind of source), as the
driver receives them, and check every row still lands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connections

from metrics.models import AvailabilityCount, MetricSample
from metrics.stores.base import PollSample, SourceSpec
from metrics.stores.sql import SqlMetricStore
from metrics.stores.statement_shapes import bound_cursor, unpacked_rows
from tests.conftest import sql_alias

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SQL_KINDS = [
    pytest.param(kind, marks=pytest.mark.django_db(databases=[sql_alias(kind)], transaction=True), id=kind)
    for kind in ("sqlite", "postgres")
]


@contextmanager
def texts_sent(alias: str) -> Iterator[list[str]]:
    """The SQL texts the driver is given (before any parameter is bound or quoted in), in order."""
    sent: list[str] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(wrapper):
        yield sent


@pytest.fixture(params=SQL_KINDS)
def store(request: pytest.FixtureRequest) -> SqlMetricStore:
    """The SQL store on SQLite and on PostgreSQL (the statement texts are what is counted, not the contract)."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")
    return SqlMetricStore(using=sql_alias(request.param))


def test_it_upserts_any_number_of_availability_cells_in_one_statement_text(store: SqlMetricStore) -> None:
    alias = store.using
    polls = 0
    with texts_sent(alias) as sent:
        for count in range(1, 120):  # one flush of `count` sources' polls: 3 cells (tiers) each
            at = T0 + timedelta(minutes=count)
            store.record_poll_outcomes([(f"s-{i:03d}", PollSample(at, True, 12.0)) for i in range(count)])
            polls += count
        # The first flush's cell again: its count is added to the row already there.
        store.record_poll_outcomes([("s-000", PollSample(T0 + timedelta(minutes=1), True, 12.0))])
    upserts = [sql for sql in sent if sql.startswith('INSERT INTO "metrics_availability"')]
    assert len(upserts) == 120
    assert len(set(upserts)) == 1, sorted(set(upserts))[:2]
    live = AvailabilityCount.objects.using(alias).filter(tier="1m")
    assert sum(live.values_list("count", flat=True)) == polls + 1
    assert live.get(source="s-000", start=T0 + timedelta(minutes=1)).count == 2
    assert live.filter(start=T0 + timedelta(minutes=119)).count() == 119


def test_it_stores_a_change_of_any_number_of_metrics_with_one_sample_statement_text(store: SqlMetricStore) -> None:
    alias = store.using
    counts = (1, 5, 30, 2, 7)
    source = SourceSpec(slug="shapes", metric_paths={f"m{i}": f"values.m{i}" for i in range(max(counts))})
    with texts_sent(alias) as sent:
        for n, count in enumerate(counts, start=1):
            payload = {"round": n, "values": {f"m{i}": i * 1.5 + n for i in range(count)}}
            result = store.record(source, payload, T0 + timedelta(minutes=n))
            assert (result.changed, result.sequence, len(result.metrics)) == (True, n, count)
            stored = MetricSample.objects.using(alias).filter(source="shapes", sequence=n)
            assert {row.metric: row.value for row in stored} == {f"m{i}": i * 1.5 + n for i in range(count)}
    # One statement a change holds the samples' INSERT (on PostgreSQL a change after the first is one statement
    # of all its writes); the same text for every change after the source's first row, whatever the count.
    inserts = [sql for sql in sent if 'INSERT INTO "metrics_sample"' in sql]
    assert len(inserts) == len(counts)
    assert len(set(inserts[1:])) == 1, sorted(set(inserts))[:2]


def test_it_stores_every_metric_value_exactly_as_extracted(store: SqlMetricStore) -> None:
    """Samples travel as JSON (SQLite) or are read back off the stored metrics object (PostgreSQL, JSON text to
    float8): awkward doubles must come back bit for bit, on the source's first row and on a later change."""
    awkward = [0.1, 1 / 3, 1e-300, 5e-324, 2.0**60 + 1, 1.7976931348623157e308, -0.0, -2.5, 123456789.123456789]
    source = SourceSpec(slug="exact", metric_paths={f"m{i}": f"values.{i}" for i in range(len(awkward))})
    for n in (1, 2):
        payload = {"round": n, "values": [value if n == 1 else -value for value in awkward] + [True]}
        result = store.record(source, payload, T0 + timedelta(minutes=n))
        assert (result.changed, result.sequence) == (True, n)
        stored = MetricSample.objects.using(store.using).filter(source="exact", sequence=n)
        assert {row.metric: row.value for row in stored} == result.metrics
        # Bit for bit, but for the sign of a zero (SQLite's JSON functions drop it; -0.0 == 0.0 all the same).
        assert {row.metric: row.value.hex() for row in stored if row.value} == {
            name: value.hex() for name, value in result.metrics.items() if value
        }


def test_it_unpacks_every_kind_of_column_value_as_it_was_given(store: SqlMetricStore) -> None:
    """The rows' values travel as one array per column (PostgreSQL, in the driver's binary form) or one JSON text
    (SQLite): text that an array's text form would have to quote, NULLs, whole numbers beyond int4 and doubles
    come back out of the unpacking select unchanged, beside a time column."""
    connection = connections[store.using]
    columns = (("name", "text"), ("number", "int8"), ("ratio", "float8"), ("at", "timestamptz"))
    texts = ['a "quoted", {braced} \\ name', "", "NULL", "é€ ✓", None]
    rows = [
        (text, None if i == 2 else 2**40 + i, None if i == 3 else i / 3, T0 + timedelta(seconds=i))
        for i, text in enumerate(texts)
    ]
    adapted = [(name, number, ratio, connection.ops.adapt_datetimefield_value(at)) for name, number, ratio, at in rows]
    select, params = unpacked_rows(connection, columns, adapted)
    with bound_cursor(connection) as cursor:
        cursor.execute(f"SELECT name, number, ratio FROM ({select}) AS r", params)  # noqa: S608 - the test's own text
        assert [tuple(row) for row in cursor.fetchall()] == [(name, number, ratio) for name, number, ratio, _at in rows]
