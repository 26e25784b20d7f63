"""With a health batch (the poll command and the loop) an unchanged poll of a healthy source costs no
statement (one read the first time this process sees the source); routine health fields of many sources
are written in one UPDATE and their availability counts in one upsert at the flush; a change of health
is still written at once, with whatever was pending for that source; a changed poll stores its change in
one transaction of four statements."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.stores.base import AvailabilitySpan
from metrics.stores.sql import SqlMetricStore
from pollers.engine import Poller
from pollers.health_batch import HealthBatch
from pollers.models import Source
from tests.factories import make_poller, make_source
from tests.simulator import RunningSimulator
from tests.simulator import steady_simulator as steady_documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def steady_simulator() -> Iterator[RunningSimulator]:
    """Documents that do not change during the test: a second poll is unchanged."""
    with steady_documents() as running:
        yield running


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


def test_it_polls_an_unchanged_healthy_source_in_no_statement(
    steady_simulator: RunningSimulator, poller: Poller, settings: Any
) -> None:
    settings.ALERT_RULES_RECHECK_SECONDS = 3600  # however slow this machine, the warm-up's read still holds
    sources = [make_source(f"r{i}", url=steady_simulator.url(f"r{i}"), timeout_seconds=2.0) for i in range(5)]
    for source in sources:
        assert poller.poll(source).record.changed  # type: ignore[union-attr]
    assert poller.flush_health() == 5
    with CaptureQueriesContext(connection) as queries:
        outcomes = [poller.poll(source) for source in sources]
    assert all(o.ok and o.record is not None and not o.record.changed for o in outcomes)
    # No statement at all: the hash is compared with the one this process stored. No re-read of the source,
    # no health, last-seen or availability write (all batched), no alert query.
    # Nor the alert rules' generation (without Redis a row of the shared cache's table): a process reads it at
    # most once per ALERT_RULES_RECHECK_SECONDS, and the warm-up polls above did.
    sqls = [q["sql"] for q in queries.captured_queries]
    assert sqls == [], [sql[:80] for sql in sqls]

    with CaptureQueriesContext(connection) as queries:
        assert poller.flush_health() == 5
    # One statement for the five health rows, one for the five unchanged sources' last-seen times, and one
    # upsert of the five polls' 15 availability cells (a minute, an hour and a day each; issue 18: every
    # poll's outcome is counted), the cells unpacked from its parameters (metrics/stores/statement_shapes.py).
    writes = statements(queries)
    assert len(writes) == 3, [sql[:80] for sql in writes]
    upsert = writes[2]
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


def test_it_reads_a_source_it_does_not_know_yet_once(
    steady_simulator: RunningSimulator, poller: Poller, settings: Any
) -> None:
    settings.ALERT_RULES_RECHECK_SECONDS = 3600  # the generation read at the first poll still holds
    source = make_source("r0", url=steady_simulator.url("r0"), timeout_seconds=2.0)
    assert poller.poll(source).ok
    fresh = SqlMetricStore()  # another process's store: it has stored nothing of this source
    fresh.defer_seen_writes()
    restarted = make_poller(store=fresh)
    restarted.health_batch = HealthBatch(max_rows=1000, max_age=3600)
    try:
        with CaptureQueriesContext(connection) as queries:
            first = restarted.poll(source)
            second = restarted.poll(source)
    finally:
        restarted.fetcher.close()
    assert first.record is not None
    assert second.record is not None
    assert (first.record.changed, second.record.changed) == (False, False)
    sqls = [q["sql"] for q in queries.captured_queries]
    assert len(sqls) == 1, [sql[:80] for sql in sqls]  # the first poll's read; the second trusts it
    assert sqls[0].startswith("SELECT hash, sequence,"), sqls[0][:80]  # the hash, no document


def test_it_stores_a_document_another_writer_replaced_at_the_next_poll(
    steady_simulator: RunningSimulator, poller: Poller
) -> None:
    source = make_source("r0", url=steady_simulator.url("r0"), timeout_seconds=2.0)
    stored = poller.poll(source).record
    assert stored is not None
    assert stored.changed
    # Another writer (a poller that held the source's lease meanwhile, an import) stores other content.
    other = SqlMetricStore()
    replaced = other.record(source.spec(), {"status": "replaced"}, datetime.now(UTC))
    assert replaced.sequence == stored.sequence + 1
    # This process still believes its own document is stored: the upstream's unchanged document is taken
    # for unchanged, and its sighting, written at the flush, does not apply to the other content.
    believed = poller.poll(source)
    assert believed.record is not None
    assert not believed.record.changed
    poller.flush_health()
    latest = other.latest(source.slug)
    assert latest is not None
    assert latest.hash == replaced.hash
    # The next poll reads the row and stores the upstream's document again, as a change.
    again = poller.poll(source).record
    assert again is not None
    assert again.changed
    assert again.sequence == replaced.sequence + 1
    assert again.hash == stored.hash
    latest = other.latest(source.slug)
    assert latest is not None
    assert (latest.hash, latest.sequence) == (stored.hash, again.sequence)


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


def fail_once_after_a_reload_read(poller: Poller, simulator: RunningSimulator) -> tuple[Source, Source]:
    """A source polled well, then failed; and an instance of it read between the two (the loop's reload
    swaps in a fresh instance of every source, and one read while a poll was in flight holds the health
    from before that poll: when the poll failed, the instance looks healthy)."""
    source = make_source("r0", url=simulator.url("r0"), timeout_seconds=2.0)
    assert poller.poll(source).ok
    read_by_the_reload = Source.objects.get(pk=source.pk)
    source.url = simulator.url("r0", "stats=1&fault=error&status=503")
    assert not poller.poll(source).ok
    assert Source.objects.get(pk=source.pk).consecutive_failures == 1
    return source, read_by_the_reload


def test_it_writes_a_recovery_for_an_instance_read_before_its_own_failure_was_written(
    steady_simulator: RunningSimulator, poller: Poller
) -> None:
    from pollers.signals import health_changed

    source, read_by_the_reload = fail_once_after_a_reload_read(poller, steady_simulator)
    statuses: list[str] = []

    def heard(sender: Any, status: str, **kwargs: Any) -> None:
        statuses.append(status)

    health_changed.connect(heard)
    try:
        assert poller.poll(read_by_the_reload).ok
    finally:
        health_changed.disconnect(heard)
    poller.flush_health()
    row = Source.objects.get(pk=source.pk)
    # Written as a recovery, not batched as routine over the failure's count.
    assert row.consecutive_failures == 0
    assert statuses == ["recovered"]


def test_it_honours_a_circuit_its_own_failure_opened_after_the_instance_was_read(
    steady_simulator: RunningSimulator, poller: Poller, settings: Any
) -> None:
    from pollers.circuit import CircuitPolicy

    settings.POLLER_CIRCUIT_FAILURE_THRESHOLD = 1
    poller.circuit_policy = CircuitPolicy.from_settings()
    source, read_by_the_reload = fail_once_after_a_reload_read(poller, steady_simulator)
    assert Source.objects.get(pk=source.pk).circuit_state == "open"
    outcome = poller.poll(read_by_the_reload)
    assert (outcome.skipped, outcome.error_kind) == (True, "circuit_open")  # cooling down, not polled


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
    # The process stored the last hash itself, so no unlocked comparison first, and it diffs against the document
    # it stored last: no read of the latest row. On PostgreSQL one statement, a data-modifying WITH holding all
    # three writes; on SQLite, in the write transaction, the latest row's conditional UPDATE, then the history entry
    # and the samples. Listeners may write their own rows (a deploy annotation: the other region's document has
    # another version; with this batch it waits for the flush); the store's statements are those on its tables.
    on_store = [sql for sql in statements(queries) if STORE_STATEMENT.search(sql)]
    stored = [found for sql in on_store for found in STORE_STATEMENT.findall(sql)]
    writes = [("UPDATE", '"metrics_latest"'), ("INSERT", '"metrics_history"'), ("INSERT", '"metrics_sample"')]
    assert stored == writes, [sql[:80] for sql in statements(queries)]
    assert len(on_store) == (1 if connection.vendor == "postgresql" else 3), [sql[:80] for sql in on_store]


def test_it_writes_each_sources_own_routine_fields_in_one_statement() -> None:
    sources = [make_source(f"h{i}") for i in range(4)]
    untouched = make_source("h-untouched")
    batch = HealthBatch(max_rows=1000, max_age=3600)
    t0 = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    expected = {}
    for i, source in enumerate(sources):
        fields = {
            "last_polled_at": t0 + timedelta(seconds=i),
            "last_latency_ms": None if i == 2 else 10.5 * (i + 1),
            "last_status_code": None if i == 2 else 200 + i,
            "last_success_at": None if i == 3 else t0 + timedelta(seconds=i),
        }
        batch.add(source.pk, fields)
        expected[source.pk] = fields
    sent: list[tuple[str, bool]] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, many))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        assert batch.flush() == 4
    writes = [(sql, many) for sql, many in sent if sql.startswith("UPDATE")]
    # PostgreSQL: one statement for all the rows (unpacked from arrays), not one execution per row.
    assert len(writes) == 1
    assert writes[0][1] is (connection.vendor != "postgresql")
    for source in sources:
        row = Source.objects.get(pk=source.pk)
        assert {name: getattr(row, name) for name in expected[source.pk]} == expected[source.pk]
    assert Source.objects.get(pk=untouched.pk).last_polled_at is None
    assert batch.flush() == 0  # nothing pending any more
