"""The poller's periodic retention step: rollups often, the full prune now and then, one poller at a time.

The ``manage.py poll --loop`` process calls ``tick()`` on every turn of its loop (pollers.loop);
it returns at once. When a step is due
(``RETENTION_ROLLUP_INTERVAL`` for rollups, ``RETENTION_PRUNE_INTERVAL`` for the full retention
with archival) and no other process holds the retention lock (a row of metrics.lifecycle.locks on the
default database, which every poller shares, so one poller of many does it; the schedule itself is in the
shared cache, devops_insights.shared_cache), the step runs in a background thread, so
polling never waits for it. A poller killed mid-step leaves the store consistent (see
metrics.lifecycle.retention) and the lock, renewed while a step runs, expires ``RETENTION_LOCK_SECONDS``
after its last renewal. ``manage.py prune``
takes the same lock (``retention_lock``), so a run from cron and a poller's never archive and delete
the same source at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import close_old_connections, connections

from devops_insights.shared_cache import shared_cache
from metrics.lifecycle.locks import Lock
from metrics.lifecycle.retention import apply_retention, roll_up_all
from metrics.lifecycle.ttl import sync_ttl
from metrics.stores import get_store

logger = logging.getLogger(__name__)

LOCK_NAME = "retention"
LAST_ROLLUP_KEY = "ops:retention:last-rollup"
LAST_PRUNE_KEY = "ops:retention:last-prune"
# When the last rollup run that finished had started (epoch seconds): every sample fetched before then is rolled
# up. Unlike LAST_ROLLUP_KEY it is not set by a failed run. Anomaly rules wait for it (alerts.measured).
ROLLED_UP_KEY = "ops:retention:rolled-up"
# How often a process looks at the shared clock at most: keeps cache traffic off the poll path.
CHECK_EVERY_SECONDS = 5.0

_local = threading.Lock()
_next_check = 0.0
_worker: threading.Thread | None = None


def tick() -> None:
    """Called by the poll loop on every turn (pollers.loop): cheap, never raises, never blocks it."""
    try:
        maybe_run()
    except Exception:
        logger.exception("retention: could not start the periodic step")


def due(now: float) -> str | None:
    """ "prune", "rollup" or None, from the times shared by every poller in the cache."""
    last_prune = shared_cache().get(LAST_PRUNE_KEY) or 0.0
    if now - float(last_prune) >= settings.RETENTION_PRUNE_INTERVAL:
        return "prune"
    last_rollup = shared_cache().get(LAST_ROLLUP_KEY) or 0.0
    if now - float(last_rollup) >= settings.RETENTION_ROLLUP_INTERVAL:
        return "rollup"
    return None


@contextmanager
def retention_lock() -> Iterator[bool]:
    """The retention lock for the ``with`` block: True when taken, False when another process holds it (or the
    database cannot be reached). Renewed while the block runs (``_keep``), so a run longer than
    ``RETENTION_LOCK_SECONDS`` keeps it; it expires that long after its process died. Released at the end only
    if still this block's (metrics.lifecycle.locks: each step is one conditional statement)."""
    token = uuid.uuid4().hex
    seconds = settings.RETENTION_LOCK_SECONDS
    try:
        taken = Lock.objects.take(LOCK_NAME, token, seconds)
    except Exception:
        logger.exception("retention: could not take the lock")
        taken = False
    if not taken:
        yield False
        return
    done = threading.Event()
    keeper = threading.Thread(target=_keep, args=(token, seconds, done), name="retention-lock", daemon=True)
    keeper.start()
    try:
        yield True
    finally:
        done.set()
        keeper.join()
        try:
            if not Lock.objects.release(LOCK_NAME, token):
                logger.warning("retention: the lock had expired and was taken by another run before it was released")
        except Exception:
            logger.exception("retention: could not release the lock; it expires in %ds at most", seconds)


def _keep(token: str, seconds: int, done: threading.Event) -> None:
    """Renew the lock every third of its time until ``done``: two thirds of it to spare before it would expire.
    A renewal finding the lock gone or another's (the process stalled longer than that) stops renewing and says
    so: the lock is that run's now."""
    try:
        while not done.wait(seconds / 3):
            try:
                if not Lock.objects.renew(LOCK_NAME, token, seconds):
                    logger.warning("retention: the lock was lost before it was renewed (a stall, or the database down)")
                    return
            except Exception:
                logger.exception("retention: could not renew the lock; trying again in %.0fs", seconds / 3)
    finally:
        # This thread's own database connection is closed with it, rather than left open (and, on PostgreSQL,
        # out of the process's pool) until the process exits.
        connections.close_all()


def run_step(step: str) -> bool:
    """Run ``step`` now if no other process holds the lock; True when it ran."""
    with retention_lock() as taken:
        return _run_step(step) if taken else False


def _run_step(step: str) -> bool:
    started = time.time()
    try:
        store = get_store()
        if step == "prune":
            reports = apply_retention(store, settings.ARCHIVE_DIR)
            sync_ttl(store)
            shared_cache().set(LAST_PRUNE_KEY, started, timeout=None)
            logger.info(
                "retention: %d source(s), %d raw snapshot(s) deleted, %d archived in %.1fs",
                len(reports),
                sum(r.raw_deleted for r in reports),
                sum(r.raw_archived for r in reports),
                time.time() - started,
            )
        else:
            roll_up_all(store)
        # A prune rolls up first, so it counts as a rollup too.
        shared_cache().set(LAST_ROLLUP_KEY, started, timeout=None)
        mark_rolled_up(started)
        return True
    except Exception:
        logger.exception("retention step %s failed; it is retried at its next interval", step)
        # Count the attempt, so a persistent failure is retried at the interval rather than every turn.
        shared_cache().set(LAST_PRUNE_KEY if step == "prune" else LAST_ROLLUP_KEY, started, timeout=None)
        return True


def mark_rolled_up(started: float) -> None:
    """Record that a rollup run of every source that started at ``started`` (epoch seconds) has finished."""
    shared_cache().set(ROLLED_UP_KEY, started, timeout=None)


def rolled_up_at() -> float | None:
    """When the last finished rollup run of every source started (epoch seconds); None when none is known."""
    value = shared_cache().get(ROLLED_UP_KEY)
    return None if value is None else float(value)


def _run_in_thread(step: str) -> None:
    try:
        run_step(step)
    finally:
        # This thread's database connections are its own: close them rather than leak one per run.
        close_old_connections()


def maybe_run(*, background: bool = True) -> str | None:
    """Start the due step (if any, and if this process is not already running one); returns it."""
    global _next_check, _worker
    if not settings.RETENTION_IN_POLLER:
        return None
    now = time.monotonic()
    with _local:
        if now < _next_check or (_worker is not None and _worker.is_alive()):
            return None
        _next_check = now + CHECK_EVERY_SECONDS
    try:
        step = due(time.time())
    except Exception:
        logger.exception("retention: cannot read the shared schedule")
        return None
    if step is None:
        return None
    if not background:
        return step if run_step(step) else None
    worker = threading.Thread(target=_run_in_thread, args=(step,), name=f"retention-{step}", daemon=True)
    with _local:
        _worker = worker
    worker.start()
    return step


def reset() -> None:
    """Forget the local throttle (tests, or after a fork)."""
    global _next_check, _worker
    with _local:
        _next_check = 0.0
        _worker = None
