"""An unchanged poll costs the SQL store one statement: the hash comparison is the UPDATE's condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from metrics.models import LatestSnapshot
from metrics.stores.base import SourceSpec, StoreError
from metrics.stores.sql import SqlMetricStore
from tests.conftest import sql_alias

SPEC = SourceSpec("us-east", metric_paths={"cpu": "cpu"})
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.django_db(databases=["default", sql_alias("sqlite"), sql_alias("postgres")], transaction=True)
def test_it_records_an_unchanged_poll_in_one_statement(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgres":
        request.getfixturevalue("postgres_url")
    alias = sql_alias(kind)
    store = SqlMetricStore(using=alias)
    store.record(SPEC, {"cpu": 1}, T0)
    with CaptureQueriesContext(connections[alias]) as queries:
        result = store.record(SPEC, {"cpu": 1}, T0 + timedelta(seconds=30), {"poll_id": "p2"})
    assert (result.changed, result.sequence) == (False, 1)
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    row = LatestSnapshot.objects.using(alias).get(source=SPEC.slug)
    assert row.last_seen_at == T0 + timedelta(seconds=30)
    assert row.poll_meta == {"poll_id": "p2"}


@pytest.mark.django_db(databases=["default", sql_alias("sqlite")], transaction=True)
def test_it_falls_back_to_the_locked_path_when_another_writer_moved_the_row() -> None:
    alias = sql_alias("sqlite")
    mine, theirs = SqlMetricStore(using=alias), SqlMetricStore(using=alias)
    mine.record(SPEC, {"cpu": 1}, T0)
    # Another process stores a change and then the old content again: same hash as this process's hint,
    # a newer sequence. The hint must not make this a no-op.
    theirs.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=10))
    theirs.record(SPEC, {"cpu": 1}, T0 + timedelta(seconds=20))
    result = mine.record(SPEC, {"cpu": 1}, T0 + timedelta(seconds=30))
    assert (result.changed, result.sequence) == (False, 3)
    again = mine.record(SPEC, {"cpu": 1}, T0 + timedelta(seconds=15))  # an older poll finishing late
    assert (again.changed, again.sequence) == (False, 3)
    assert LatestSnapshot.objects.using(alias).get(source=SPEC.slug).last_seen_at == T0 + timedelta(seconds=30)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.django_db(databases=["default", sql_alias("sqlite"), sql_alias("postgres")], transaction=True)
def test_it_defers_last_seen_to_one_flush_and_never_undoes_a_change(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgres":
        request.getfixturevalue("postgres_url")
    alias = sql_alias(kind)
    poller_store, other = SqlMetricStore(using=alias), SqlMetricStore(using=alias)
    poller_store.defer_seen_writes()
    poller_store.record(SPEC, {"cpu": 1}, T0)
    poller_store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=5))  # a second source keeps its own entry
    b = SourceSpec("eu-west", metric_paths={"cpu": "cpu"})
    poller_store.record(b, {"cpu": 7}, T0)
    with CaptureQueriesContext(connections[alias]) as queries:
        first = poller_store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30), {"poll_id": "a"})
        second = poller_store.record(b, {"cpu": 7}, T0 + timedelta(seconds=30), {"poll_id": "b"})
    assert (first.changed, first.sequence, second.changed, second.sequence) == (False, 2, False, 1)
    # No statement: both hashes are compared with what this store stored itself.
    assert [q["sql"] for q in queries.captured_queries] == []
    assert poller_store.latest(SPEC.slug).last_seen_at == T0 + timedelta(seconds=5)  # type: ignore[union-attr]
    # Another writer stores a change of eu-west before the flush: the flush must leave it alone.
    other.record(b, {"cpu": 8}, T0 + timedelta(seconds=40))
    with CaptureQueriesContext(connections[alias]) as queries:
        assert poller_store.flush() == 2
    statements = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] not in {"BEGIN", "COMMIT"}]
    assert len(statements) == 1, statements  # one UPDATE executed for both sources
    us = poller_store.latest(SPEC.slug)
    assert us is not None
    assert (us.last_seen_at, us.poll_meta) == (T0 + timedelta(seconds=30), {"poll_id": "a"})
    them = poller_store.latest(b.slug)
    assert them is not None
    assert (them.sequence, them.last_seen_at) == (2, T0 + timedelta(seconds=40))
    assert poller_store.flush() == 0
    # The sighting that did not apply made the store forget eu-west: its next poll reads the row, and the
    # upstream's document, no longer the stored one, is stored again as a change.
    with CaptureQueriesContext(connections[alias]) as queries:
        unchanged_us = poller_store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=50))
    assert (unchanged_us.changed, len(queries.captured_queries)) == (False, 0)
    back = poller_store.record(b, {"cpu": 7}, T0 + timedelta(seconds=50))
    assert (back.changed, back.sequence) == (True, 3)


@pytest.mark.django_db(databases=["default", sql_alias("postgres")], transaction=True)
def test_it_keeps_the_sightings_of_a_failed_flush_for_the_next_one(postgres_url: str) -> None:
    alias = sql_alias("postgres")
    store = SqlMetricStore(using=alias)
    store.defer_seen_writes()
    b = SourceSpec("eu-west", metric_paths={"cpu": "cpu"})
    for spec in (SPEC, b):
        store.record(spec, {"cpu": 1}, T0)
        store.record(spec, {"cpu": 1}, T0 + timedelta(seconds=30), {"poll_id": "old"})
    table = LatestSnapshot._meta.db_table
    with connections[alias].cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO latest_away")  # a real failure of the flush's statement
    try:
        with pytest.raises(StoreError):
            store.flush()
        # Meanwhile eu-west is seen again: the newer sighting wins over the one the failed flush held.
        store.record(b, {"cpu": 1}, T0 + timedelta(seconds=60), {"poll_id": "new"})
    finally:
        with connections[alias].cursor() as cursor:
            cursor.execute(f"ALTER TABLE latest_away RENAME TO {table}")
    assert store.flush() == 2
    seen = {row.source: (row.last_seen_at, row.poll_meta) for row in LatestSnapshot.objects.using(alias)}
    assert seen == {
        SPEC.slug: (T0 + timedelta(seconds=30), {"poll_id": "old"}),
        b.slug: (T0 + timedelta(seconds=60), {"poll_id": "new"}),
    }
