"""This process's own poll outcomes of the last minutes, by source and minute: the fresh end of the
burn-rate windows (``alerts.burn_windows``) without a store read per poll.

Every poll this process evaluates is counted here first (``alerts.engine.evaluate_poll``), classified
as the poller counts it in the store (``pollers.availability.sample_for``: up, down or not counted),
under its start minute, as the store buckets it. A burn-rate rule then takes the poll's previous and
current minute from here instead of reading them back from the store.

What this process saw is all there is to see of a minute only when it was counting before the minute
began: ``minutes`` answers for a minute after the first minute it counted (``_since``), and says
``None`` otherwise (a process just started, or one whose memory was dropped), and for a minute older
than the ones it keeps (a late poll), so the caller reads the store as before. A source's polls made
by another process in those two minutes (a lease that moved, a manual poll) are in the store only:
they reach the windows with the settled read of the minute after next, at most two minutes late, and
never counted twice (the settled read stops where these minutes begin).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from metrics.availability import bucket_start
from pollers.availability import sample_for

MINUTE = timedelta(minutes=1)
KEPT = 3  # minutes per source: the current, the previous, and one for a poll that ends across a boundary

_lock = threading.Lock()
_counts: dict[str, dict[datetime, list[int]]] = {}  # slug -> minute -> [polls, up]
_since: datetime | None = None  # the first minute counted: seen only in part


def count(outcome: Any) -> None:
    """Count one poll of this process (a ``PollOutcome``), as the store counts it."""
    sample = sample_for(outcome)
    if sample is None:  # not counted in the store either (a source deleted meanwhile)
        return
    minute = bucket_start(sample.at, "1m")
    global _since
    with _lock:
        if _since is None:
            _since = minute
        minutes = _counts.setdefault(outcome.source, {})
        cell = minutes.get(minute)
        if cell is None:
            cell = minutes[minute] = [0, 0]
            if len(minutes) > KEPT:
                del minutes[min(minutes)]
        cell[0] += 1
        cell[1] += int(sample.up)


def minutes(slug: str, minute: datetime) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(polls, up) of ``slug`` in the minute before ``minute`` and in ``minute``, or None when this process
    may not have seen all of its own polls of them (see the module's docstring)."""
    previous = minute - MINUTE
    with _lock:
        if _since is None or previous <= _since:
            return None
        kept = _counts.get(slug, {})
        if kept and previous < min(kept) and len(kept) == KEPT:  # older than what is kept: a late poll
            return None
        before, now = kept.get(previous, (0, 0)), kept.get(minute, (0, 0))
        return (before[0], before[1]), (now[0], now[1])


def forget() -> None:
    """Drop what was counted (tests, and benches replaying an hour): the next count starts anew."""
    global _since
    with _lock:
        _counts.clear()
        _since = None
