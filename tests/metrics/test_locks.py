"""The retention lock (metrics.lifecycle.locks, through maintenance.retention_lock): one holder at a time,
also when two takers race for an expired lock, and a holder whose lock expired and was taken by another
neither renews nor releases the new holder's lock.

Takers race from two threads (each with its own connection) and from a real second process."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from metrics.lifecycle import maintenance
from metrics.lifecycle.locks import Lock
from tests.races import at_once
from tests.run_manage import talking_shell

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 20
NAME = maintenance.LOCK_NAME


def expired_lock() -> None:
    """The lock as a poller killed mid-run leaves it: held by nobody alive, expired."""
    Lock.objects.update_or_create(
        name=NAME, defaults={"holder": "dead-poller", "expires_at": timezone.now() - timedelta(seconds=1)}
    )


def race(take: Callable[[], bool]) -> list[bool]:
    """``take`` from two threads at once; what each got."""
    results: list[bool] = at_once(take, 2)
    return results


def test_it_lets_exactly_one_of_two_threads_take_a_free_lock() -> None:
    for _ in range(ROUNDS):
        assert sorted(race(lambda: Lock.objects.take(NAME, uuid.uuid4().hex, 60))) == [False, True]
        Lock.objects.all().delete()


def test_it_lets_exactly_one_of_two_threads_take_an_expired_lock() -> None:
    for _ in range(ROUNDS):
        expired_lock()
        assert sorted(race(lambda: Lock.objects.take(NAME, uuid.uuid4().hex, 60))) == [False, True]


def test_it_lets_exactly_one_of_two_retention_runs_hold_the_lock() -> None:
    both_tried = threading.Barrier(2)

    def run() -> bool:
        with maintenance.retention_lock() as taken:
            both_tried.wait(timeout=30)  # the taker holds it until the other has tried
            return taken

    for _ in range(ROUNDS):
        expired_lock()
        assert sorted(race(run)) == [False, True]
    assert not Lock.objects.exists()  # released by its taker


def test_it_lets_exactly_one_of_two_processes_take_an_expired_lock(tmp_path: Path) -> None:
    code = (
        "import sys, uuid\n"
        "from metrics.lifecycle.locks import Lock\n"
        "for _ in sys.stdin:\n"
        f"    print(Lock.objects.take({NAME!r}, uuid.uuid4().hex, 60), flush=True)\n"
    )
    other = talking_shell(code, tmp_path)
    assert other.stdin is not None
    assert other.stdout is not None
    try:
        for _ in range(ROUNDS):
            expired_lock()
            other.stdin.write("take\n")
            other.stdin.flush()
            here = Lock.objects.take(NAME, uuid.uuid4().hex, 60)
            there = other.stdout.readline().strip()
            assert sorted([here, there == "True"]) == [False, True], there
    finally:
        other.communicate("", timeout=60)
    assert other.returncode == 0


def test_it_neither_renews_nor_releases_a_lock_another_took_after_it_expired() -> None:
    assert Lock.objects.take(NAME, "stalled", 60)
    Lock.objects.filter(name=NAME).update(expires_at=timezone.now() - timedelta(seconds=1))  # it stalled
    assert Lock.objects.take(NAME, "next", 60)

    assert not Lock.objects.renew(NAME, "stalled", 60)
    assert not Lock.objects.release(NAME, "stalled")

    lock = Lock.objects.get(name=NAME)
    assert lock.holder == "next"
    assert lock.expires_at > timezone.now() + timedelta(seconds=50)
    assert Lock.objects.renew(NAME, "next", 60)
    assert Lock.objects.release(NAME, "next")


def test_it_leaves_a_held_lock_to_its_holder_when_the_taker_s_clock_runs_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second host whose clock is ten minutes fast must not read a lock held for another minute as expired."""
    assert Lock.objects.take(NAME, "holder", 60)
    ahead = timezone.now() + timedelta(minutes=10)
    monkeypatch.setattr(timezone, "now", lambda: ahead)

    assert not Lock.objects.take(NAME, "fast-clock", 60)
    assert Lock.objects.get(name=NAME).holder == "holder"


def test_it_holds_a_lock_taken_by_a_host_whose_clock_runs_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock taken for a minute on a host ten minutes slow is held for that minute, not already expired."""
    behind = timezone.now() - timedelta(minutes=10)
    with monkeypatch.context() as slow:
        slow.setattr(timezone, "now", lambda: behind)
        assert Lock.objects.take(NAME, "slow-clock", 60)
        assert Lock.objects.renew(NAME, "slow-clock", 60)

    assert not Lock.objects.take(NAME, "next", 60)
    assert Lock.objects.get(name=NAME).holder == "slow-clock"


def _wait_for_a_blocked_statement(deadline: float) -> None:
    """Until another session of this database waits for a row lock (PostgreSQL's view of its sessions)."""
    while True:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        assert time.monotonic() < deadline, "the release never waited for the new holder's row"


def test_it_leaves_the_new_holder_its_lock_when_it_was_taken_while_the_release_looked() -> None:
    """A release that checked the lock was its own, and then deleted whatever held it, deleted a lock another
    run had taken in between: here the other run takes the expired lock in a transaction it commits only once
    the release waits on its row."""
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once are PostgreSQL's; SQLite serialises them (run with DATABASE_URL set)")
    released = threading.Event()
    taken = threading.Event()
    failures: list[BaseException] = []

    def stalled_run() -> None:
        try:
            with maintenance.retention_lock() as ours:
                assert ours
                taken.set()
                assert released.wait(timeout=30)
        except BaseException as exc:  # an assertion here is reported by the test's own thread
            failures.append(exc)
        finally:
            connections.close_all()

    run = threading.Thread(target=stalled_run)
    run.start()
    assert taken.wait(timeout=30)
    Lock.objects.filter(name=NAME).update(expires_at=timezone.now() - timedelta(seconds=1))  # it stalled
    with transaction.atomic():
        assert Lock.objects.take(NAME, "next", 60)
        released.set()  # the stalled run leaves its block and releases
        _wait_for_a_blocked_statement(time.monotonic() + 30)
    run.join(timeout=60)
    assert failures == []
    assert Lock.objects.get(name=NAME).holder == "next"
