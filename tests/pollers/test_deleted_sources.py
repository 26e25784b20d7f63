"""A deleted source's stored metrics go with it, however it was deleted and whatever polls were under way."""

from __future__ import annotations

import time
from typing import Any

import pytest

from metrics.stores import get_store
from metrics.stores.sql import SqlMetricStore
from pollers.health_batch import HealthBatch
from pollers.leases import LocalLeases
from pollers.loop import PollerLoop
from pollers.models import Source
from tests.factories import make_poller, make_source
from tests.pollers.test_loop import FinishesBeforeSubmitReturns, wait_for
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db(transaction=True)


def dispatch_when_due(loop: PollerLoop) -> None:
    """Dispatch once the first slot is due (in the last quarter of a slot, reload schedules the next one)."""
    wait_for(lambda: loop.heap[0][0] <= time.time())
    loop.dispatch(FinishesBeforeSubmitReturns())


def stored(slug: str) -> tuple[bool, int]:
    """Whether a latest snapshot of ``slug`` is stored, and how many history entries; read afresh."""
    store = SqlMetricStore()  # no memory of this process's writes, as another process reads
    return store.latest(slug) is not None, len(store.history(slug, None, None, 100).entries)


def test_it_deletes_the_stored_metrics_of_a_source_deleted_without_the_api(simulator: RunningSimulator) -> None:
    source = make_source("us-east", url=simulator.url("us-east"))
    assert make_poller().poll(source).ok
    assert stored("us-east") == (True, 1)
    Source.objects.filter(pk=source.pk).delete()  # as the admin and a configuration apply delete
    assert stored("us-east") == (False, 0)
    # A source created later with the same slug starts with nothing of the old one's.
    assert get_store().latest("us-east") is None


def test_it_deletes_again_what_a_poll_stored_after_its_source_was_deleted(simulator: RunningSimulator) -> None:
    make_source("us-east", url=simulator.url("us-east"), interval_seconds=1, timeout_seconds=1.0)
    # Its own store instance, as in a poller process: the web process's delete does not touch its memory.
    poller = make_poller(store=SqlMetricStore())
    poller.health_batch = HealthBatch()  # as the poll command gives the loop: healthy sources are not re-read
    loop = PollerLoop(poller, LocalLeases(), concurrency=2, jitter_fraction=0, write=lambda line: None)
    loop.reload()
    dispatch_when_due(loop)
    assert stored("us-east") == (True, 1)

    # Deleted as the API deletes it (the store first, then the row), before this loop's next reload.
    SqlMetricStore().delete_source("us-east")
    Source.objects.filter(slug="us-east").delete()
    assert stored("us-east") == (False, 0)
    simulator.set_fault("us-east", kind="healthy")  # a document that differs from the one stored last
    dispatch_when_due(loop)  # the next slot
    assert stored("us-east")[0], "the poll after the deletion stored nothing: the case below did not arise"

    loop.reload()  # notices the deletion; the poll has landed
    assert stored("us-east") == (False, 0)
    assert "us-east" not in loop.left


def test_it_leaves_a_disabled_sources_metrics_alone(simulator: RunningSimulator) -> None:
    source = make_source("us-east", url=simulator.url("us-east"), interval_seconds=1, timeout_seconds=1.0)
    poller = make_poller(store=SqlMetricStore())
    poller.health_batch = HealthBatch()
    loop = PollerLoop(poller, LocalLeases(), concurrency=2, jitter_fraction=0, write=lambda line: None)
    loop.reload()
    dispatch_when_due(loop)
    Source.objects.filter(pk=source.pk).update(enabled=False)
    loop.reload()
    assert "us-east" not in loop.scheduled
    assert stored("us-east") == (True, 1)
    assert not loop.left


def test_it_tries_again_at_the_next_reload_while_a_poll_is_in_flight(simulator: RunningSimulator) -> None:
    source = make_source("us-east", url=simulator.url("us-east"), interval_seconds=1, timeout_seconds=1.0)
    poller = make_poller(store=SqlMetricStore())
    loop = PollerLoop(poller, LocalLeases(), concurrency=2, jitter_fraction=0, write=lambda line: None)
    loop.reload()
    dispatch_when_due(loop)
    in_flight: Any = object()
    loop.in_flight["us-east"] = in_flight  # a poll still under way when the deletion is noticed
    Source.objects.filter(pk=source.pk).delete()
    poller.store.record(source.spec(), {"status": "written late"}, source.created_at, {})  # what it stores
    loop.reload()
    assert stored("us-east")[0]  # not yet: the poll in flight may still write
    assert loop.left == {"us-east"}
    del loop.in_flight["us-east"]
    loop.reload()
    assert stored("us-east") == (False, 0)
