"""With a health batch (the poll command and the loop) an unchanged poll of a healthy source costs one
read and its availability count, routine health fields of many sources are written in one UPDATE, and a
change of health is still written at once, with whatever was pending for that source."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pollers.engine import Poller
from pollers.health_batch import HealthBatch
from pollers.models import Source
from pollers.simulator.server import RunningSimulator
from tests.factories import make_poller, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def steady_simulator() -> Iterator[RunningSimulator]:
    """Documents stable for an hour: a second poll is unchanged."""
    running = RunningSimulator("127.0.0.1", 0, window_seconds=3600).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = make_poller()
    poller.health_batch = HealthBatch(max_rows=1000, max_age=3600)
    yield poller
    poller.fetcher.close()


def test_it_polls_an_unchanged_healthy_source_in_one_read_and_its_availability_count(
    steady_simulator: RunningSimulator, poller: Poller
) -> None:
    sources = [make_source(f"r{i}", url=steady_simulator.url(f"r{i}"), timeout_seconds=2.0) for i in range(5)]
    for source in sources:
        assert poller.poll(source).record.changed  # type: ignore[union-attr]
    assert poller.flush_health() == 5
    with CaptureQueriesContext(connection) as queries:
        outcomes = [poller.poll(source) for source in sources]
    assert all(o.ok and o.record is not None and not o.record.changed for o in outcomes)
    # Per poll, exactly two statements: the store's hash comparison (a read) and the availability upsert
    # (issue 18: every poll's outcome is counted, one INSERT ... ON CONFLICT per poll). No re-read of the
    # source, no health or last-seen write (both batched), no alert query.
    sqls = [q["sql"] for q in queries.captured_queries]
    assert len(sqls) == 2 * len(sources), [sql[:80] for sql in sqls]
    for read, upsert in zip(sqls[0::2], sqls[1::2], strict=True):
        assert read.startswith('SELECT "metrics_latest"."hash"'), read[:80]
        assert upsert.startswith('INSERT INTO "metrics_availability"'), upsert[:80]
        assert "ON CONFLICT" in upsert, upsert[-120:]

    with CaptureQueriesContext(connection) as queries:
        assert poller.flush_health() == 5
    # One statement for the five health rows, one for the five unchanged sources' last-seen times.
    assert len(queries.captured_queries) == 2, [q["sql"][:80] for q in queries.captured_queries]
    for source, outcome in zip(sources, outcomes, strict=True):
        latest = poller.store.latest(source.slug)
        assert latest is not None
        assert latest.last_seen_at == outcome.started_at
    for source, outcome in zip(sources, outcomes, strict=True):
        row = Source.objects.get(pk=source.pk)
        assert row.last_polled_at is not None
        assert row.last_polled_at >= outcome.started_at
        assert row.last_success_at == row.last_polled_at


def test_it_writes_a_failure_at_once_with_the_pending_routine_fields(
    steady_simulator: RunningSimulator, poller: Poller
) -> None:
    source = make_source("r0", url=steady_simulator.url("r0"), timeout_seconds=2.0)
    assert poller.poll(source).ok
    assert len(poller.health_batch or []) == 1
    success_at = source.last_success_at
    source.url = steady_simulator.url("r0", "stats=1&fault=error&status=503")
    failed = poller.poll(source)
    assert not failed.ok
    assert len(poller.health_batch or []) == 0  # taken by the immediate write
    row = Source.objects.get(pk=source.pk)
    assert row.consecutive_failures == 1
    assert row.last_success_at == success_at  # the pending routine field went with the failure
    assert row.last_error_at is not None
    assert row.last_polled_at == row.last_error_at
