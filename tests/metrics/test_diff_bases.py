"""A change to the document the store itself stored last: diffed before any statement (on SQLite before the
write lock), written without reading the row (one statement on PostgreSQL), and never trusted over the row
(metrics/stores/diff_bases.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connections

from metrics.stores.base import SourceSpec
from metrics.stores.diff_bases import DiffBases
from metrics.stores.sql import SqlMetricStore
from tests.conftest import sql_alias
from tests.metrics.support import statements_sent

SPEC = SourceSpec("eu-west", metric_paths={"cpu": "cpu", "mem": "mem"}, volatile_paths=["generated_at"])
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DATABASES = ["default", sql_alias("sqlite"), sql_alias("postgres")]


def _doc(cpu: float, version: str = "v1", generated: int = 0) -> dict[str, Any]:
    return {
        "cpu": cpu,
        "mem": 40,
        "version": version,
        "generated_at": generated,
        "regions": [{"name": "a", "ok": True}],
    }


@pytest.fixture(params=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")  # skips without a server
    return sql_alias(request.param)


def _reads_the_row(sent: list[str]) -> bool:
    """Whether a change read the latest row first (the locked path): ``FOR UPDATE`` on PostgreSQL, the
    SELECT inside the write transaction on SQLite."""
    return any(sql.startswith("SELECT") and "_latest" in sql.split(" FROM ")[-1].split()[0] for sql in sent)


def _history(store: SqlMetricStore) -> list[tuple[int, list[str]]]:
    page = store.history(SPEC.slug, limit=50)
    return sorted((entry.sequence, sorted(change.path for change in entry.diff)) for entry in page.entries)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_diffs_a_change_exactly_as_the_locked_read_does(alias: str) -> None:
    ours, theirs = SqlMetricStore(using=alias), SqlMetricStore(using=alias)
    ours.record(SPEC, _doc(1.5, generated=1), T0)
    # ours remembers its document; theirs has to read the row (the locked path) for the same change.
    fast, sent = statements_sent(
        alias, lambda: ours.record(SPEC, _doc(2.5, "v2", generated=2), T0 + timedelta(seconds=1))
    )
    assert not _reads_the_row(sent)
    if connections[alias].vendor == "postgresql":
        assert len(sent) == 1
    ours.delete_source(SPEC.slug)
    SqlMetricStore(using=alias).record(SPEC, _doc(1.5, generated=1), T0)
    slow, sent = statements_sent(
        alias, lambda: theirs.record(SPEC, _doc(2.5, "v2", generated=2), T0 + timedelta(seconds=1))
    )
    assert _reads_the_row(sent)
    assert fast.diff == slow.diff  # volatile generated_at left out by both
    assert sorted(change.path for change in fast.diff) == ["cpu", "version"]
    assert (fast.sequence, fast.hash, fast.metrics) == (slow.sequence, slow.hash, slow.metrics)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_reads_the_row_when_another_writer_changed_it_meanwhile(alias: str) -> None:
    ours, other = SqlMetricStore(using=alias), SqlMetricStore(using=alias)
    ours.record(SPEC, _doc(1), T0)
    other.record(SPEC, _doc(2), T0 + timedelta(seconds=10))  # a lease that moved away and back, an import
    result, sent = statements_sent(alias, lambda: ours.record(SPEC, _doc(3), T0 + timedelta(seconds=20)))
    assert (result.changed, result.sequence) == (True, 3)
    # Diffed against what is stored (cpu 2), not against what this store last wrote (cpu 1).
    assert [(c.path, c.old, c.new) for c in result.diff] == [("cpu", 2, 3)]
    # The conditional write applied nothing; then the row was read under its lock, as for any other change.
    sent = [sql for sql in sent if sql != "BEGIN IMMEDIATE"]  # SQLite's write transaction, taken at BEGIN
    assert sent[0].startswith("WITH" if connections[alias].vendor == "postgresql" else "UPDATE")
    assert not _reads_the_row(sent[:1])
    assert _reads_the_row(sent[1:])
    assert _history(ours) == [(1, []), (2, ["cpu"]), (3, ["cpu"])]
    # What it stored now is its base again: the next change does not read the row.
    _, sent = statements_sent(alias, lambda: ours.record(SPEC, _doc(4), T0 + timedelta(seconds=30)))
    assert not _reads_the_row(sent)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_stores_nothing_for_a_poll_older_than_the_stored_document(alias: str) -> None:
    store = SqlMetricStore(using=alias)
    store.record(SPEC, _doc(1), T0 + timedelta(seconds=60))
    late = store.record(SPEC, _doc(2), T0)  # a slow poll finishing after a newer one
    assert (late.changed, late.sequence) == (False, 1)
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert (latest.sequence, latest.payload["cpu"]) == (1, 1)
    assert _history(store) == [(1, [])]


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_stores_a_return_to_an_earlier_document_as_a_change(alias: str) -> None:
    store = SqlMetricStore(using=alias)
    for step, cpu in enumerate([1, 2, 1]):
        result = store.record(SPEC, _doc(cpu), T0 + timedelta(seconds=step))
        assert (result.changed, result.sequence) == (True, step + 1)
    assert _history(store) == [(1, []), (2, ["cpu"]), (3, ["cpu"])]


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_reads_the_row_first_for_every_change_when_the_budget_is_zero(alias: str, settings: Any) -> None:
    settings.METRICS_DIFF_BASE_CACHE_BYTES = 0
    store = SqlMetricStore(using=alias)
    store.record(SPEC, _doc(1), T0)
    result, sent = statements_sent(alias, lambda: store.record(SPEC, _doc(2), T0 + timedelta(seconds=1)))
    assert result.sequence == 2
    assert _reads_the_row(sent)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_forgets_a_deleted_sources_document(alias: str) -> None:
    store = SqlMetricStore(using=alias)
    store.record(SPEC, _doc(1), T0)
    store.delete_source(SPEC.slug)
    first = store.record(SPEC, _doc(2), T0 + timedelta(seconds=1))
    assert (first.changed, first.sequence, first.diff) == (True, 1, [])
    assert store.record(SPEC, _doc(3), T0 + timedelta(seconds=2)).diff[0].old == 2


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_diffs_and_encodes_a_change_before_taking_the_sqlite_write_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's SQLite write lock is held for the writes alone: the diff runs before it is taken, so
    other polling threads' writes do not queue behind it."""
    from metrics.stores import sql

    alias = sql_alias("sqlite")
    lock = sql.sqlite_write_lock(alias)
    held: list[bool] = []
    original = sql.diff_payloads

    def watching(*args: Any, **kwargs: Any) -> Any:
        held.append(lock._is_owned())  # type: ignore[attr-defined] # RLock's own check of its owner
        return original(*args, **kwargs)

    monkeypatch.setattr(sql, "diff_payloads", watching)
    store = SqlMetricStore(using=alias)
    store.record(SPEC, _doc(1), T0)
    result = store.record(SPEC, _doc(2), T0 + timedelta(seconds=1))
    assert (result.changed, [change.path for change in result.diff]) == (True, ["cpu"])
    assert held == [False]


def test_it_keeps_the_documents_within_the_budget_least_recently_stored_first_out() -> None:
    bases = DiffBases(max_bytes=10)
    bases.put("a", "h1", 1, "aaaa")
    bases.put("b", "h1", 1, "bbbb")
    assert bases.size_bytes == 8
    bases.put("a", "h2", 2, "aaa")  # stored again: now the most recent, its old text no longer counted
    assert bases.size_bytes == 7
    bases.put("c", "h1", 1, "cccc")  # 11 > 10: the least recently stored (b) goes
    assert bases.get("b") is None
    assert bases.get("a") == ("h2", 2, "aaa")
    assert bases.size_bytes == 7
    assert len(bases) == 2


def test_it_does_not_keep_a_document_above_the_whole_budget() -> None:
    bases = DiffBases(max_bytes=4)
    bases.put("a", "h1", 1, "aaaa")
    bases.put("a", "h2", 2, "aaaaa")  # too large: not kept, and the older text is not kept either
    assert bases.get("a") is None
    assert bases.size_bytes == 0
    bases.put("b", "h1", 1, "bb")
    bases.drop("b")
    assert (len(bases), bases.size_bytes) == (0, 0)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_it_reads_the_row_when_another_writer_went_back_to_its_document(alias: str) -> None:
    ours, other = SqlMetricStore(using=alias), SqlMetricStore(using=alias)
    ours.record(SPEC, _doc(1), T0)
    other.record(SPEC, _doc(2), T0 + timedelta(seconds=10))
    other.record(SPEC, _doc(1), T0 + timedelta(seconds=20))  # the row holds our hash again, at sequence 3
    result = ours.record(SPEC, _doc(3), T0 + timedelta(seconds=30))
    assert (result.changed, result.sequence) == (True, 4)
    assert _history(ours) == [(1, []), (2, ["cpu"]), (3, ["cpu"]), (4, ["cpu"])]
