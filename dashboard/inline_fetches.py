"""At most a quarter of a web process's request slots may wait on an upstream inside a request.

The source form's *Test*, *Poll now* and a forced circuit trial fetch the source in the request itself, for up to
the source's timeout (120 s at most). Each holds one of the process's request slots meanwhile
(devops_insights/request_slots.py, ``WEB_MAX_CONCURRENT_REQUESTS``), so a few of them at once against a slow
upstream, by any operator of any team, would hold every slot and leave every team's pages waiting. Past the limit
such a request is answered at once ("busy, try again") instead of waiting, and the other three quarters of the
slots stay free for pages.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from devops_insights.request_slots import request_slots

_lock = threading.Lock()
_running = 0

BUSY_MESSAGE = "Other fetches from pages are running in this web process; try again in a moment."


def limit() -> int:
    """How many requests of this process may fetch an upstream at once: a quarter of its slots, at least one."""
    return max(1, request_slots() // 4)


@contextmanager
def inline_fetch() -> Iterator[bool]:
    """True for the ``with`` block when a fetch may run in this request now, False when the limit is reached
    (do not fetch: say ``BUSY_MESSAGE``)."""
    global _running
    with _lock:
        admitted = _running < limit()
        if admitted:
            _running += 1
    try:
        yield admitted
    finally:
        if admitted:
            with _lock:
                _running -= 1
