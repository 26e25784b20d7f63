"""Deploy markers ride the poller's health batch: a change polled by a poller with a batch (the poll command,
the loop) is marked when that batch is flushed, every pending marker in one statement; a single poll marks
its own change at once (tests/boards/test_receivers.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards.models import Annotation
from boards.receivers import PENDING, on_batch_flushed, on_change_stored
from metrics.stores.base import AvailabilitySpan, FieldChange, RecordResult
from metrics.stores.sql import sqlite_write_lock
from pollers.engine import Poller
from pollers.health_batch import HealthBatch
from pollers.models import Source
from tests.factories import make_poller, make_source
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db

FETCHED_AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)  # microseconds: the time must survive exactly


@pytest.fixture
def batched_poller() -> Iterator[Poller]:
    poller = make_poller(failure_threshold=1000, cooldown=600)
    poller.health_batch = HealthBatch(max_rows=1000, max_age=3600)  # flushed when the test says so
    yield poller
    poller.fetcher.close()


def deploy_and_poll(simulator: RunningSimulator, poller: Poller, sources: list[Source]) -> dict[str, datetime]:
    """Poll each source, deploy a new build to each region, poll each again: when each change was fetched."""
    for source in sources:
        assert poller.poll(source).ok  # the first document: nothing to compare with, no marker
    for source in sources:
        simulator.deploy(source.slug, "v2.6.15")
    simulator.advance(1)
    fetched: dict[str, datetime] = {}
    for source in sources:
        outcome = poller.poll(source)
        assert outcome.ok
        assert outcome.record is not None
        assert outcome.record.changed
        fetched[source.slug] = outcome.started_at
    return fetched


def a_deploy(poll_id: str = "p1") -> dict[str, Any]:
    """change_stored's arguments but the source: a stored change of the version."""
    record = RecordResult(True, "h" * 40, {}, 2, [FieldChange("version", "v2.4.1", "v2.6.15", "changed")])
    return {"record": record, "fetched_at": FETCHED_AT, "poll_id": poll_id}


def test_it_marks_a_batched_change_when_the_poller_flushes_its_batch(
    simulator: RunningSimulator, batched_poller: Poller, allow_loopback: Any
) -> None:
    sources = [make_source(slug, url=simulator.url(slug), timeout_seconds=2.0) for slug in ("eu-west", "us-east")]
    fetched = deploy_and_poll(simulator, batched_poller, sources)
    assert not Annotation.objects.exists()  # held for the flush
    assert len(PENDING) == 2

    with CaptureQueriesContext(connection) as queries:
        batched_poller.flush_health()
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "boards_annotation"')]
    assert len(inserts) == 1, inserts  # both markers in one statement
    assert len(PENDING) == 0
    markers = {marker.source_id: marker for marker in Annotation.objects.all()}
    assert set(markers) == {source.pk for source in sources}
    for source in sources:
        marker = markers[source.pk]
        assert (marker.team_id, marker.kind, marker.tags, marker.created_by_id) == (
            source.team_id,
            "auto",
            ["deploy"],
            None,
        )
        assert marker.at == fetched[source.slug]
        assert marker.text.startswith("version v2.")
        assert marker.text.endswith("→ v2.6.15")
        assert fetched[source.slug] <= marker.created_at <= datetime.now(UTC)


def test_it_stores_a_batched_marker_as_it_stores_one_written_at_once() -> None:
    source = make_source("eu-west")
    on_change_stored(Source, source=source, batched=False, **a_deploy("at-once"))
    on_change_stored(Source, source=source, batched=True, **a_deploy("batched"))
    assert Annotation.objects.count() == 1
    on_batch_flushed(Source)
    # The stored values themselves, as the database holds them (SQLite keeps datetimes and JSON as text).
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "team_id", "source_id", "at", "text", "tags", "kind", "created_by_id" '
            'FROM "boards_annotation" ORDER BY "id"'
        )
        at_once, batched = cursor.fetchall()
    assert batched == at_once
    [marker, _] = Annotation.objects.order_by("id")
    assert (marker.source_id, marker.team_id, marker.at, marker.text, marker.tags, marker.kind) == (
        source.pk,
        source.team_id,
        FETCHED_AT,
        "version v2.4.1 → v2.6.15",
        ["deploy"],
        "auto",
    )


def test_it_writes_the_pending_markers_itself_when_they_reach_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PENDING, "bound", 3)
    source = make_source("eu-west")
    for poll_id in ("p1", "p2"):
        on_change_stored(Source, source=source, batched=True, **a_deploy(poll_id))
    assert not Annotation.objects.exists()
    with CaptureQueriesContext(connection) as queries:
        on_change_stored(Source, source=source, batched=True, **a_deploy("p3"))  # no flush is coming
    assert Annotation.objects.count() == 3
    assert len(PENDING) == 0
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1, inserts


@pytest.mark.django_db(transaction=True)  # autocommit: the failed INSERT is its own transaction, as in a poller
def test_it_logs_the_markers_a_failed_write_loses_and_still_writes_the_health_batch(
    simulator: RunningSimulator, batched_poller: Poller, allow_loopback: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kept, deleted = (make_source(slug, url=simulator.url(slug), timeout_seconds=2.0) for slug in ("us-east", "eu-west"))
    deploy_and_poll(simulator, batched_poller, [kept, deleted])
    assert len(PENDING) == 2
    # A source deleted while its marker waits: the one INSERT of both markers breaks its foreign key.
    Source.objects.filter(pk=deleted.pk).delete()
    with caplog.at_level(logging.WARNING, logger="boards"):
        batched_poller.flush_health()  # does not raise
    assert "2 automatic annotations not recorded" in caplog.text
    assert not Annotation.objects.exists()
    assert len(PENDING) == 0  # dropped, not retried at every flush
    # The health batch was written all the same: the kept source's times and both of its polls' counts.
    row = Source.objects.get(pk=kept.pk)
    assert row.last_polled_at == kept.last_polled_at
    now = datetime.now(UTC)
    [total] = batched_poller.store.availability_totals(
        kept.slug, [AvailabilitySpan("1d", now - timedelta(days=2), now + timedelta(days=2))]
    )
    assert total.polls == 2


def _synchronous_commit_after_the_insert(settings: Any) -> list[str]:
    """Mark a change through the batch; PostgreSQL's synchronous_commit as the marker's INSERT left it."""
    seen: list[str] = []

    def watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "boards_annotation"'):
            # Asked on the same database connection (same transaction), through a cursor of its own.
            seen.append(str(context["connection"].connection.execute("SHOW synchronous_commit").fetchone()[0]))
        return result

    source = make_source("eu-west")
    on_change_stored(Source, source=source, batched=True, **a_deploy())
    with connection.execute_wrapper(watch):
        on_batch_flushed(Source)
    assert Annotation.objects.count() == 1
    return seen


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's commit; run with DATABASE_URL set to it")
def test_it_commits_the_batched_markers_without_the_wal_flush_on_postgresql(settings: Any) -> None:
    assert _synchronous_commit_after_the_insert(settings) == ["off"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's commit; run with DATABASE_URL set to it")
def test_it_waits_for_the_wal_flush_when_the_setting_says_so(settings: Any) -> None:
    settings.METRICS_SYNCHRONOUS_COMMIT = True
    assert _synchronous_commit_after_the_insert(settings) == ["on"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's one writer")
def test_it_writes_the_batched_markers_under_the_stores_one_writer_lock_on_sqlite() -> None:
    lock = sqlite_write_lock(connection.alias)
    free_to_others: list[bool] = []

    def try_from_another_thread() -> None:
        took = lock.acquire(blocking=False)
        if took:
            lock.release()
        free_to_others.append(took)

    def watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if sql.startswith('INSERT INTO "boards_annotation"'):
            other = threading.Thread(target=try_from_another_thread)
            other.start()
            other.join()
        return execute(sql, params, many, context)

    on_change_stored(Source, source=make_source("eu-west"), batched=True, **a_deploy())
    with connection.execute_wrapper(watch):
        on_batch_flushed(Source)
    assert free_to_others == [False]  # the poller's other writes queue behind it, as behind each other
    assert Annotation.objects.count() == 1
