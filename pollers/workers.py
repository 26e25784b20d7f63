"""The poller's worker threads: one pool for a process's polls, and what a worker does after each poll.

Django keeps a database connection per thread (on SQLite open between polls for ``DATABASE_CONN_MAX_AGE``; on
PostgreSQL a wrapper the pool lends a connection to for each poll), so it lives as long as its thread. A pool kept
for the process's life (``poll --loop``: ``PollerLoop.run``; a one-off ``poll``: its one cycle) reuses both, poll
after poll. A pool started anew for each batch of polls would leave each finished thread's connection behind:
Django's connection wrapper is a reference cycle, so an open SQLite connection (its page cache) waits for the
cyclic collector, which the poller runs rarely (devops_insights/collector.py); ``bench/poll.py``'s memory row grew
that way while it made a pool per cycle.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import close_old_connections, reset_queries

from pollers.engine import Poller
from pollers.models import Source
from pollers.outcome import PollOutcome


def pool(concurrency: int) -> ThreadPoolExecutor:
    """The worker threads of ``concurrency`` polls at once, to keep for every poll of the process."""
    return ThreadPoolExecutor(concurrency, thread_name_prefix="poll")


@contextmanager
def handing_back() -> Iterator[None]:
    """Around one poll in a worker: afterwards its connection goes back to the pool (or is closed once too old or
    broken) and its query log is emptied.

    With the bounded pool a thread that kept its connection would starve the others once there are more threads
    than pooled connections; with DEBUG on (the embedded default) Django keeps each thread's last 9,000 statements,
    documents included: hundreds of MiB across the worker threads of a long-running loop.
    """
    try:
        yield
    finally:
        close_old_connections()
        reset_queries()


def poll_and_hand_back(poller: Poller, source: Source) -> PollOutcome:
    """One poll in a worker thread, as the poll command runs it."""
    with handing_back():
        return poller.poll(source)
