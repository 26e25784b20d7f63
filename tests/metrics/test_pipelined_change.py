"""A change's writes are pipelined on PostgreSQL (metrics/stores/sql.py): an error in any of them, answered only
with the others, still rolls the whole change back and reaches the caller as a StoreError, and leaves no reference
cycle holding the frames that were running."""

from __future__ import annotations

import select
import weakref
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection

from metrics.models import HistoryEntryRow, LatestSnapshot
from metrics.stores.base import SourceSpec, StoreError
from metrics.stores.sql import SqlMetricStore, _change_transaction
from tests.conftest import sql_alias

SPEC = SourceSpec("us-east", metric_paths={"cpu": "cpu"})
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.django_db(databases=["default", sql_alias("sqlite"), sql_alias("postgres")], transaction=True)
def test_it_rolls_a_change_back_whole_when_a_pipelined_write_fails(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgres":
        request.getfixturevalue("postgres_url")
    alias = sql_alias(kind)
    store = SqlMetricStore(using=alias)
    store.record(SPEC, {"cpu": 1}, T0)
    # A history entry already holds the next sequence: the change's history insert (the second of its three
    # writes) breaks the unique (source, sequence) constraint after its update of the latest row was sent.
    HistoryEntryRow.objects.using(alias).create(
        source=SPEC.slug, sequence=2, hash="x", payload={}, metrics={}, diff=[], fetched_at=T0
    )
    with pytest.raises(StoreError, match=r"metrics_history_source_sequence|UNIQUE"):
        store.record(SPEC, {"cpu": 2}, T0 + timedelta(seconds=30))
    latest = LatestSnapshot.objects.using(alias).get(source=SPEC.slug)
    assert (latest.sequence, latest.payload, latest.fetched_at) == (1, {"cpu": 1}, T0)
    # The connection is usable again, and the next change (once the way is clear) is stored whole.
    HistoryEntryRow.objects.using(alias).filter(source=SPEC.slug, sequence=2).delete()
    assert store.record(SPEC, {"cpu": 3}, T0 + timedelta(seconds=60)).sequence == 2
    assert LatestSnapshot.objects.using(alias).get(source=SPEC.slug).payload == {"cpu": 3}


class Document:
    """Stands for a poll's document: what a caller's frame holds while the change is written."""


# The default database: the project's backend (devops_insights/postgresql), whose translation of driver errors
# keeps no cycle of its own; the contract alias is Django's.
@pytest.mark.skipif(connection.vendor != "postgresql", reason="pipeline mode is PostgreSQL's")
@pytest.mark.parametrize("next_step", ["statement", "read"])
@pytest.mark.usefixtures("collector_off")
@pytest.mark.django_db(transaction=True)
def test_it_frees_the_frames_of_a_change_whose_failure_was_answered_inside_the_pipeline(next_step: str) -> None:
    def write(document: Document) -> None:
        with _change_transaction(connection) as cursor:
            cursor.execute("SELECT 1 / 0")
            if next_step == "read":
                cursor.fetchone()  # waits for the statement's answer: the refusal
                return
            # The refusal is back before the next statement is sent, which reads it: the block raises, with that
            # statement still waiting in the pipeline (in a poll, when the server answers quickly).
            select.select([connection.connection.pgconn.socket], [], [], 5.0)
            cursor.execute("SELECT 1")

    document = Document()
    refused = ""
    try:
        write(document)
    except DatabaseError as exc:
        refused = str(exc)
    assert "division by zero" in refused
    written = weakref.ref(document)
    del document
    assert written() is None, "the failed change's frames outlived it"
    with connection.cursor() as cursor:  # and the connection is usable again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
