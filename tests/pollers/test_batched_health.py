"""With a health batch (the poll command and the loop) an unchanged poll of a healthy source costs one
read; routine health fields of many sources are written in one UPDATE and their availability counts in
one upsert at the flush; a change of health is still written at once, with whatever was pending for
that source; a changed poll stores its change in one transaction of four statements."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.stores.base import AvailabilitySpan
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


# A statement on one of the store's tables: its verb and table (the SELECT's columns and the written values
# are left out, a document may contain anything).
STORE_STATEMENT = re.compile(r'(SELECT|UPDATE|INSERT)(?: [^"]*? FROM| INTO)? ("metrics_[a-z_]+")')


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements, without transaction control (the test's own transaction adds savepoints)."""
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(control)]


def availability_span() -> AvailabilitySpan:
    now = datetime.now(UTC)
    return AvailabilitySpan("1d", now - timedelta(days=2), now + timedelta(days=2))


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = make_poller()
    poller.health_batch = HealthBatch(max_rows=1000, max_age=3600)
    yield poller
    poller.fetcher.close()


def test_it_polls_an_unchanged_healthy_source_in_one_read(steady_simulator: RunningSimulator, poller: Poller) -> None:
    sources = [make_source(f"r{i}", url=steady_simulator.url(f"r{i}"), timeout_seconds=2.0) for i in range(5)]
    for source in sources:
        assert poller.poll(source).record.changed  # type: ignore[union-attr]
    assert poller.flush_health() == 5
    with CaptureQueriesContext(connection) as queries:
        outcomes = [poller.poll(source) for source in sources]
    assert all(o.ok and o.record is not None and not o.record.changed for o in outcomes)
    # Per poll, exactly one statement: the store's hash comparison (a read). No re-read of the source,
    # no health, last-seen or availability write (all batched), no alert query.
    sqls = [q["sql"] for q in queries.captured_queries]
    assert len(sqls) == len(sources), [sql[:80] for sql in sqls]
    for read in sqls:
        assert STORE_STATEMENT.match(read).groups() == ("SELECT", '"metrics_latest"'), read[:80]  # type: ignore[union-attr]
        assert read.startswith("SELECT hash, sequence,"), read[:80]  # the hash, no document

    with CaptureQueriesContext(connection) as queries:
        assert poller.flush_health() == 5
    # One statement for the five health rows, one for the five unchanged sources' last-seen times, and the
    # upsert of the five polls' 15 availability cells (a minute, an hour and a day each; issue 18: every
    # poll's outcome is counted) in runs of 8, 4, 2 and 1 rows (metrics/stores/statement_shapes.py).
    writes = statements(queries)
    assert len(writes) == 6, [sql[:80] for sql in writes]
    upserts = writes[2:]
    assert [upsert.count("), (") + 1 for upsert in upserts] == [8, 4, 2, 1]
    for upsert in upserts:
        assert upsert.startswith('INSERT INTO "metrics_availability"'), upsert[:80]
        assert "ON CONFLICT" in upsert
    for source in sources:
        [total] = poller.store.availability_totals(source.slug, [availability_span()])
        assert total.polls == 2  # the first poll's and this one's
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


def test_it_stores_a_changed_poll_in_one_transaction_without_a_second_read(
    steady_simulator: RunningSimulator, poller: Poller
) -> None:
    source = make_source("r0", url=steady_simulator.url("r0"), timeout_seconds=2.0)
    assert poller.poll(source).ok
    poller.flush_health()
    source.url = steady_simulator.url("r0-renamed")  # another region name: another document
    with CaptureQueriesContext(connection) as queries:
        outcome = poller.poll(source)
    assert outcome.record is not None
    assert outcome.record.changed
    assert outcome.record.diff
    # The process stored the last hash itself, so no unlocked comparison first; inside the transaction
    # the locked read brings the old document for the diff (no second read of its payload), then the
    # latest row, the history entry and the samples. Listeners write their own rows (a deploy annotation:
    # the other region's document has another version); the store's statements are those on its tables.
    stored = [found.groups() for sql in statements(queries) if (found := STORE_STATEMENT.match(sql))]
    assert stored == [
        ("SELECT", '"metrics_latest"'),
        ("UPDATE", '"metrics_latest"'),
        ("INSERT", '"metrics_history"'),
        ("INSERT", '"metrics_sample"'),
    ], [sql[:80] for sql in statements(queries)]
    locked_read = next(sql for sql in statements(queries) if STORE_STATEMENT.match(sql))
    assert "payload" in locked_read.split(" FROM ")[0]  # the old document comes with the lock, for the diff
