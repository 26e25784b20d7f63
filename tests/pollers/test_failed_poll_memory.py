"""What a poll that fails in the poller's own steps leaves behind, with the cyclic collector off: nothing of the poll.

The poller runs its collector rarely (devops_insights/collector.py: every 50,000 allocations, and a poll makes few),
so a reference cycle made per poll keeps its objects, the fetched document included, for thousands of polls. Where
these polls fail, an exception outlives its ``except`` block or sits in a cycle of its own: a signal receiver that
raises (Django's ``send_robust`` returns it), a health write the database refuses (the engine records it and tries
again), a document the database refuses (Django's translation of a driver's error was a cycle per error).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from metrics.models import HistoryEntryRow
from pollers.engine import Poller
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed

pytestmark = pytest.mark.django_db


@contextmanager
def refused(statement: str, table: str) -> Iterator[None]:
    """A trigger that makes the database refuse every ``statement`` (INSERT, UPDATE) on ``table``, as a failing
    database would, outside a test's transaction (``transactional_db``), as the poller writes: only that statement
    fails, and Django keeps no exception of it on the connection for an enclosing atomic block."""
    quoted = connection.ops.quote_name(table)
    if connection.vendor == "sqlite":
        create = [
            f"CREATE TRIGGER refuse_writes BEFORE {statement} ON {quoted} "
            "BEGIN SELECT RAISE(ABORT, 'writes refused'); END"
        ]
        drop = ["DROP TRIGGER refuse_writes"]
    else:
        create = [
            "CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'writes refused'; END $$",
            f"CREATE TRIGGER refuse_writes BEFORE {statement} ON {quoted} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_writes()",
        ]
        drop = [f"DROP TRIGGER refuse_writes ON {quoted}", "DROP FUNCTION refuse_writes()"]
    with connection.cursor() as cursor:
        for sql in create:
            cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for sql in drop:
                cursor.execute(sql)


@pytest.mark.usefixtures("collector_off")
def test_it_frees_the_outcome_a_raising_receiver_was_given(us_east: Source, default_poller: Poller) -> None:
    given: list[weakref.ref[PollOutcome]] = []

    def broken(outcome: PollOutcome, **kwargs: Any) -> None:
        given.append(weakref.ref(outcome))
        raise RuntimeError("receiver bug")

    poll_completed.connect(broken, dispatch_uid="broken")
    try:
        recorded = default_poller.poll(us_east)
    finally:
        poll_completed.disconnect(dispatch_uid="broken")
    assert (recorded.ok, recorded.error_kind) == (False, "internal")
    assert "RuntimeError: receiver bug" in recorded.error_message
    # The poll ends with another outcome (recorded as internal): the one the receiver had, with the document, goes
    # when the poll returns, not at the collector's next pass.
    [outcome] = given
    assert outcome() is None, "the outcome given to the receiver outlived the poll"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("collector_off")
def test_it_frees_a_poll_whose_health_write_the_database_refused(us_east: Source, default_poller: Poller) -> None:
    with refused("UPDATE", Source._meta.db_table):
        recorded = default_poller.poll(us_east)
    assert (recorded.ok, recorded.error_kind) == (False, "internal")
    assert "recording or announcing the poll failed" in recorded.error_message
    assert recorded.payload is not None  # the document, fetched and stored before the health write failed
    polled = weakref.ref(recorded)
    del recorded
    assert polled() is None, "the poll's outcome outlived the poll and its caller"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("collector_off")
def test_it_frees_a_poll_whose_document_the_database_refused(us_east: Source, default_poller: Poller) -> None:
    # On PostgreSQL the refusal comes back, depending on timing, during a later statement of the change's pipeline
    # or when it ends: the first way, psycopg's end of the pipeline kept an error of its own in a reference cycle
    # with the poll's frames (metrics/stores/sql.py, _PipelineMode).
    with refused("INSERT", HistoryEntryRow._meta.db_table):
        recorded = default_poller.poll(us_east)
    assert (recorded.ok, recorded.error_kind) == (False, "store_error")
    assert recorded.payload is not None  # the document the store could not write
    polled = weakref.ref(recorded)
    del recorded
    assert polled() is None, "the poll's outcome outlived the poll and its caller"
