"""METRICS_SYNCHRONOUS_COMMIT: on PostgreSQL a poll's change commits without waiting for the WAL flush, and
nothing else does (the switch is the transaction's own, gone when it ends)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from django.db import connections, transaction

from metrics.models import HistoryEntryRow
from metrics.stores.base import SourceSpec, StoreError
from metrics.stores.sql import SqlMetricStore
from tests.conftest import sql_alias
from tests.metrics.support import statements_sent

SPEC = SourceSpec("us-east", metric_paths={"cpu": "cpu"})
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DATABASES = ["default", sql_alias("sqlite"), sql_alias("postgres")]


def _synchronous_commit(cursor: Any) -> str:
    cursor.execute("SHOW synchronous_commit")
    return str(cursor.fetchone()[0])


def _record_change_watching(alias: str) -> list[str]:
    """Store a change to a document another process stored (read under the lock first); the transaction's
    ``synchronous_commit`` as seen right after each of its statements."""
    SqlMetricStore(using=alias).record(SPEC, {"cpu": 1}, T0)
    store = SqlMetricStore(using=alias)
    seen: list[str] = []

    def watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        result = execute(sql, params, many, context)
        if "FOR UPDATE" in sql or sql.startswith(("INSERT", "WITH")):
            # Asked on the same database connection (same transaction), through a cursor of its own.
            seen.append(str(context["connection"].connection.execute("SHOW synchronous_commit").fetchone()[0]))
        return result

    with connections[alias].execute_wrapper(watch):
        result = store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30))
    assert (result.changed, result.sequence) == (True, 2)
    return seen


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_commits_a_change_without_the_wal_flush_on_postgresql(postgres_url: str) -> None:
    alias = sql_alias("postgres")
    seen = _record_change_watching(alias)
    assert seen == ["off"] * 2  # the locked read and the writes' one statement: so at its commit too
    with connections[alias].cursor() as cursor:
        assert _synchronous_commit(cursor) == "on"  # only that transaction: the session keeps the server's setting


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_waits_for_the_flush_when_the_setting_says_so(postgres_url: str, settings: Any) -> None:
    settings.METRICS_SYNCHRONOUS_COMMIT = True
    seen = _record_change_watching(sql_alias("postgres"))
    assert seen == ["on"] * 2


@pytest.mark.django_db(databases=DATABASES, transaction=True)
@pytest.mark.parametrize("synchronous", [False, True])
def test_it_relaxes_the_commit_of_a_change_to_its_own_document_as_the_setting_says(
    postgres_url: str, settings: Any, synchronous: bool
) -> None:
    settings.METRICS_SYNCHRONOUS_COMMIT = synchronous
    alias = sql_alias("postgres")
    store = SqlMetricStore(using=alias)
    store.record(SPEC, {"cpu": 1}, T0)
    result, sent = statements_sent(alias, lambda: store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30)))
    assert result.sequence == 2
    # One statement, its own transaction: the switch is inside it (SET LOCAL's function form) or absent.
    assert len(sent) == 1
    assert ("set_config('synchronous_commit', 'off', true)" in sent[0]) is not synchronous
    with connections[alias].cursor() as cursor:
        assert _synchronous_commit(cursor) == "on"  # the session keeps the server's setting


@pytest.fixture
def stored_elsewhere(postgres_url: str) -> SqlMetricStore:
    """The SQL store on the PostgreSQL test database, holding a first document of ``SPEC`` (sequence 1) that
    another store stored: this one has no document to diff against, so a change reads the row under its lock."""
    SqlMetricStore(using=sql_alias("postgres")).record(SPEC, {"cpu": 1}, T0)
    return SqlMetricStore(using=sql_alias("postgres"))


@pytest.fixture(params=["read under the lock", "diffed against its own document"])
def stored(request: pytest.FixtureRequest, postgres_url: str) -> SqlMetricStore:
    """The store holding a first document of ``SPEC`` (sequence 1), once stored by another store (a change reads
    the row under its lock first) and once by this one (a change is one statement, ``_record_on_known_base``)."""
    store = SqlMetricStore(using=sql_alias("postgres"))
    store.record(SPEC, {"cpu": 1}, T0)
    return store if request.param == "diffed against its own document" else SqlMetricStore(using=store.using)


def _other_session(alias: str) -> psycopg.Connection[Any]:
    """A connection of its own to the test database: it sees only what is committed."""
    settings_dict = connections[alias].settings_dict
    return psycopg.connect(
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"] or None,
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
        autocommit=True,
    )


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_commits_a_change_behind_its_writes_and_leaves_the_session_idle(stored_elsewhere: SqlMetricStore) -> None:
    store, alias = stored_elsewhere, stored_elsewhere.using
    result, sent = statements_sent(alias, lambda: store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30)))
    assert (result.changed, result.sequence) == (True, 2)
    assert sent[-1] == "COMMIT"  # queued in the pipeline behind the samples' INSERT: one round trip for both
    connection = connections[alias]
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert connection.get_autocommit()
    with _other_session(alias) as other:
        row = other.execute(
            "SELECT sequence, payload::json FROM metrics_latest WHERE source = %s", [SPEC.slug]
        ).fetchone()
        samples = other.execute("SELECT count(*) FROM metrics_sample WHERE sequence = 2").fetchone()
    assert row == (2, {"cpu": 2})
    assert samples == (1,)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_stores_a_change_to_its_own_document_in_one_statement_and_commits_it(postgres_url: str) -> None:
    alias = sql_alias("postgres")
    store = SqlMetricStore(using=alias)
    store.record(SPEC, {"cpu": 1}, T0)
    result, sent = statements_sent(alias, lambda: store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30)))
    assert (result.changed, result.sequence) == (True, 2)
    assert [change.path for change in result.diff] == ["cpu"]
    assert len(sent) == 1
    assert sent[0].startswith("WITH")
    connection = connections[alias]
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with _other_session(alias) as other:
        row = other.execute(
            "SELECT sequence, payload::json FROM metrics_latest WHERE source = %s", [SPEC.slug]
        ).fetchone()
        entry = other.execute("SELECT sequence, diff FROM metrics_history WHERE sequence = 2").fetchone()
        samples = other.execute("SELECT metric, value FROM metrics_sample WHERE sequence = 2").fetchall()
    assert row == (2, {"cpu": 2})
    assert entry is not None
    assert entry[0] == 2
    assert "cpu" in str(entry[1])
    assert samples == [("cpu", 2.0)]


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_rolls_a_change_back_whole_when_one_of_its_writes_fails(stored: SqlMetricStore) -> None:
    store, alias = stored, stored.using
    # A history entry already holding the next sequence: the change's own history INSERT fails, after the
    # latest row's UPDATE went out in the same pipeline.
    blocker = HistoryEntryRow.objects.using(alias).create(
        source=SPEC.slug, sequence=2, hash="x" * 40, payload={}, fetched_at=T0
    )
    with pytest.raises(StoreError, match="IntegrityError"):
        store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30))
    with _other_session(alias) as other:
        row = other.execute(
            "SELECT sequence, payload::json FROM metrics_latest WHERE source = %s", [SPEC.slug]
        ).fetchone()
        samples = other.execute("SELECT count(*) FROM metrics_sample WHERE sequence = 2").fetchone()
    assert row == (1, {"cpu": 1})
    assert samples == (0,)
    # The session is usable again, and the change is stored once nothing is in its way.
    blocker.delete()
    again = store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=60))
    assert (again.changed, again.sequence) == (True, 2)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_rolls_a_change_back_and_unlocks_the_row_when_the_change_fails_before_its_writes(
    stored: SqlMetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, alias = stored, stored.using

    def failing_diff(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the diff failed")

    monkeypatch.setattr("metrics.stores.sql.diff_payloads", failing_diff)
    with pytest.raises(RuntimeError, match="the diff failed"):
        store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30))
    # The transaction the store began (and the row lock of its read) ended with the failure.
    assert connections[alias].connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with _other_session(alias) as other:
        locked = other.execute(
            "SELECT sequence FROM metrics_latest WHERE source = %s FOR UPDATE NOWAIT", [SPEC.slug]
        ).fetchone()
    assert locked == (1,)
    monkeypatch.undo()
    again = store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=60))
    assert (again.changed, again.sequence) == (True, 2)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_stores_a_change_inside_a_callers_transaction_as_part_of_it(stored: SqlMetricStore) -> None:
    store, alias = stored, stored.using
    seen_outside: list[Any] = []

    def callers_work() -> None:
        with transaction.atomic(using=alias):
            inside = store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30))
            assert (inside.changed, inside.sequence) == (True, 2)
            with _other_session(alias) as other:  # not committed by the store: the caller's transaction holds it
                seen_outside.append(
                    other.execute("SELECT sequence FROM metrics_latest WHERE source = %s", [SPEC.slug]).fetchone()
                )
            raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError, match="the caller gave up"):
        callers_work()
    assert seen_outside == [(1,)]
    assert store.latest(SPEC.slug).sequence == 1  # type: ignore[union-attr]


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_leaves_the_commit_to_a_caller_who_turned_autocommit_off(stored: SqlMetricStore) -> None:
    store, alias = stored, stored.using
    connection = connections[alias]
    connection.set_autocommit(False)
    try:
        result = store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30))
        assert (result.changed, result.sequence) == (True, 2)
        with _other_session(alias) as other:  # the caller's transaction holds the change until it commits
            assert other.execute("SELECT sequence FROM metrics_latest WHERE source = %s", [SPEC.slug]).fetchone() == (
                1,
            )
        connection.commit()
    finally:
        connection.set_autocommit(True)
    with _other_session(alias) as other:
        assert other.execute("SELECT sequence FROM metrics_latest WHERE source = %s", [SPEC.slug]).fetchone() == (2,)
