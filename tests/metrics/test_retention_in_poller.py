"""The poller's periodic retention step: due times shared in Redis, one poller at a time, off the poll path."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection

from metrics.lifecycle import maintenance
from metrics.lifecycle.locks import Lock
from metrics.lifecycle.models import RetentionPolicy
from metrics.lifecycle.retention import rollup_store
from metrics.stores.base import MetricStore, SourceSpec
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.leases import LocalLeases
from pollers.loop import PollerLoop
from pollers.models import Source
from tests.factories import make_source

SPEC = SourceSpec("us-east", metric_paths={"cpu": "stats.cpu"})


@pytest.fixture
def store(redis_settings: Any, tmp_path: Path) -> Iterator[MetricStore]:
    from metrics.stores import get_store

    redis_settings.ARCHIVE_DIR = tmp_path / "archive"
    redis_settings.RETENTION_IN_POLLER = True
    make_source("us-east")
    RetentionPolicy.objects.update_or_create(source=None, defaults={"raw_days": 1, "archive_raw": True})
    get_store.cache_clear()
    maintenance.reset()
    store = get_store()
    # Every 6 hours, half an hour off the one-day horizon the retention step computes from the real clock: taken
    # as the test starts, since a moment taken at import is past that half hour when the suite reaches it late.
    now = datetime.now(UTC)
    for hours in range(48, 0, -6):
        store.record(SPEC, {"stats": {"cpu": float(hours)}}, now - timedelta(hours=hours, minutes=-30))
    yield store
    maintenance.reset()
    get_store.cache_clear()


def raw_count(store: MetricStore) -> int:
    return len(store.history("us-east", limit=1000).entries)


@pytest.mark.django_db
def test_it_prunes_first_then_only_rolls_up_at_its_interval(store: MetricStore, redis_client: Any) -> None:
    assert raw_count(store) == 8
    assert maintenance.maybe_run(background=False) == "prune"
    assert raw_count(store) == 4  # older than a day: archived and deleted
    assert rollup_store(store).rollups("us-east", "1h")
    # Throttled locally, then not due anywhere: both steps just ran.
    assert maintenance.maybe_run(background=False) is None
    maintenance.reset()
    assert maintenance.maybe_run(background=False) is None
    # The rollup interval passes (as seen by every poller, through Redis): only rollups run.
    redis_client.flushdb()
    maintenance.reset()
    from django.core.cache import cache

    cache.set(maintenance.LAST_PRUNE_KEY, 9e18, timeout=None)  # pruned "in the future": not due
    assert maintenance.maybe_run(background=False) == "rollup"


@pytest.mark.django_db
def test_it_leaves_the_step_to_the_poller_holding_the_lock(store: MetricStore) -> None:

    assert Lock.objects.take(maintenance.LOCK_NAME, "another-poller", 60)
    assert maintenance.maybe_run(background=False) is None
    assert raw_count(store) == 8
    assert Lock.objects.get(name=maintenance.LOCK_NAME).holder == "another-poller"  # not taken over, not released


@pytest.mark.django_db
def test_the_prune_command_refuses_to_run_while_the_retention_lock_is_held(store: MetricStore) -> None:
    """prune took no lock: beside a poller's retention run it rewrote the same archive days and deleted
    under it."""
    assert Lock.objects.take(maintenance.LOCK_NAME, "another-poller", 60)
    with pytest.raises(CommandError, match="another retention run holds the retention lock") as caught:
        call_command("prune", stdout=StringIO())
    assert "nothing was changed" in str(caught.value)
    assert raw_count(store) == 8
    assert not Path(settings.ARCHIVE_DIR).exists()
    assert Lock.objects.get(name=maintenance.LOCK_NAME).holder == "another-poller"  # not taken over, not released
    # A dry run changes nothing, so it needs no lock.
    call_command("prune", "--dry-run", stdout=StringIO())


@pytest.mark.django_db
def test_the_prune_command_holds_the_retention_lock_while_it_runs(
    store: MetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics.management.commands import prune

    polled: list[bool] = []  # whether a poller's retention step ran while the command did
    real = prune.apply_retention

    def beside_a_poller(*args: Any, **kwargs: Any) -> Any:
        polled.append(maintenance.run_step("prune"))
        return real(*args, **kwargs)

    monkeypatch.setattr(prune, "apply_retention", beside_a_poller)
    call_command("prune", stdout=StringIO())
    assert polled == [False]
    assert raw_count(store) == 4
    assert not Lock.objects.filter(name=maintenance.LOCK_NAME).exists()  # released for the next run


@pytest.mark.django_db
def test_it_marks_when_a_rollup_of_every_source_that_started_when_finished_and_a_failed_one_not(
    store: MetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Anomaly rules judge an hour once a rollup run that started after it has finished (alerts.measured).
    began = time.time()
    call_command("prune", "--source", "us-east", stdout=StringIO())
    assert maintenance.rolled_up_at() is None  # one source only: the others' hours are not known rolled up
    call_command("prune", stdout=StringIO())  # from cron (RETENTION_IN_POLLER=false)
    from_cron = maintenance.rolled_up_at()
    assert from_cron is not None
    assert began <= from_cron <= time.time()

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the store is unavailable")

    monkeypatch.setattr(maintenance, "roll_up_all", unreachable)
    assert maintenance.run_step("rollup")
    assert maintenance.rolled_up_at() == from_cron  # counted as a run (LAST_ROLLUP_KEY), not as rolled up
    monkeypatch.undo()
    assert maintenance.run_step("rollup")
    assert maintenance.rolled_up_at() == cache.get(maintenance.LAST_ROLLUP_KEY) > from_cron


@pytest.mark.django_db
def test_it_stays_off_when_disabled(store: MetricStore, redis_settings: Any) -> None:
    redis_settings.RETENTION_IN_POLLER = False
    assert maintenance.maybe_run(background=False) is None
    assert raw_count(store) == 8


@pytest.mark.django_db(transaction=True)
def test_it_runs_in_the_background_without_blocking_the_caller(store: MetricStore) -> None:
    assert maintenance.maybe_run() == "prune"
    worker = maintenance._worker
    assert worker is not None
    # Another turn of the loop while the step runs: no second step in this process.
    maintenance._next_check = 0.0
    assert maintenance.maybe_run() is None
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert raw_count(store) == 4


def start_loop(retention: bool) -> tuple[PollerLoop, threading.Thread]:
    """A real poll loop over the fixture's source (its polls fail: nothing listens on port 9)."""
    poller = Poller(fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0)))
    loop = PollerLoop(poller, LocalLeases(), concurrency=1, write=lambda line: None, retention=retention)

    def run() -> None:
        try:
            loop.run()
        finally:
            connection.close()  # this thread's own; the test database is dropped at the end

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return loop, thread


def stop_loop(loop: PollerLoop, thread: threading.Thread) -> None:
    loop.shutdown = True
    thread.join(timeout=30)
    assert not thread.is_alive(), "the loop did not stop"


def wait_for(condition: Any, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_it_runs_from_the_poll_loop_only(store: MetricStore) -> None:
    from pollers.outcome import PollOutcome
    from pollers.signals import poll_completed

    # The ORM does not validate: an interval under the admin's minimum keeps the loop's first poll close.
    Source.objects.filter(slug="us-east").update(interval_seconds=2)
    source = Source.objects.get(slug="us-east")
    outcome = PollOutcome(source="us-east", poll_id="p", started_at=datetime.now(UTC), ok=False, error_kind="timeout")
    poll_completed.send_robust(sender=Source, source=source, outcome=outcome)
    assert maintenance._worker is None  # a poll signal starts nothing: the loop calls the step itself

    # A loop not asked to (a benchmark's, a test's) polls without ever starting the step.
    loop, thread = start_loop(retention=False)
    try:
        wait_for(lambda: loop.polls_done >= 1, "a poll of the loop without retention")
    finally:
        stop_loop(loop, thread)
    assert maintenance._worker is None
    assert raw_count(store) == 8

    # The loop of `manage.py poll --loop` (retention=True) starts it on its own turn.
    loop, thread = start_loop(retention=True)
    try:
        wait_for(lambda: cache.get(maintenance.LAST_PRUNE_KEY) is not None, "the retention step run by the loop")
        worker = maintenance._worker
        assert worker is not None  # in a thread of its own, not on the loop's
        worker.join(timeout=60)
        assert not worker.is_alive()
    finally:
        stop_loop(loop, thread)
    assert raw_count(store) == 4  # the step the loop started pruned (archived, then deleted)


@pytest.mark.django_db(transaction=True)  # the lock's renewals run on their own thread's connection
def test_it_keeps_the_retention_lock_through_a_run_longer_than_the_lock_lasts(
    store: MetricStore, redis_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock expired after RETENTION_LOCK_SECONDS whatever the run was doing: another poller (or a prune
    # from cron) then took it and archived and deleted beside the first run.
    redis_settings.RETENTION_LOCK_SECONDS = 1
    taken_beside: list[bool] = []  # whether another run could take the lock while this one ran

    def slow_retention(*args: Any, **kwargs: Any) -> list[Any]:
        deadline = time.monotonic() + 3.5  # three and a half times the lock's time
        while time.monotonic() < deadline:
            time.sleep(0.25)
            taken_beside.append(Lock.objects.take(maintenance.LOCK_NAME, "another-poller", 60))
        return []

    monkeypatch.setattr(maintenance, "apply_retention", slow_retention)
    assert maintenance.run_step("prune")
    assert len(taken_beside) >= 10
    assert not any(taken_beside)
    # Released at the end, and no renewal brings it back.
    assert not Lock.objects.filter(name=maintenance.LOCK_NAME).exists()
    time.sleep(1.5)
    assert not Lock.objects.filter(name=maintenance.LOCK_NAME).exists()
