"""Python's cyclic garbage collector in a long-running process (web or poller), tuned once start-up is done.

Two measures, for the same reason: the collector's passes grow with the number of objects it tracks, and
these processes keep hundreds of thousands of them alive for their whole life while allocating briskly.

- ``gc.freeze()`` after start-up moves what is loaded by then (Django, every app and its imports: about
  300,000 objects) to a generation the collector never scans again. Every full collection rescanned them.
- A higher young-generation threshold: a collection every so many net allocations of tracked objects
  instead of Python's 700. The objects of a request, a WebSocket handshake or a poll live across a few
  hundred allocations; with 700 they were traversed and promoted at nearly every collection, and the
  promotions triggered full collections.

Freezing keeps only what is alive at that moment out of the collector's reach, and only from the
collector: reference counting still frees those objects when they are released. A cycle among them
that becomes garbage later is never freed, which start-up's objects (modules, settings, the URL
resolver) do not do. A cycle of garbage made later waits for at most the threshold's allocations.

That wait is what the hot paths must not lean on: a poll or a message allocates few objects the collector
tracks, so at these thresholds a cycle can wait for thousands of them, and one holding a body or a document
holds megabytes meanwhile. The commonest such cycle is an exception kept past its ``except`` block
(``detached`` below).
"""

from __future__ import annotations

import gc
import threading
from typing import Final, TypeVar

Thresholds = tuple[int, int, int]
E = TypeVar("E", bound=BaseException)

# Web processes (devops_insights/asgi.py): with 1,000 WebSocket handshakes in a row (bench/ws_fanout.py,
# connect phase, uvicorn) the collector's CPU fell from 0.40 s in 370 collections to 0.17 s in 25.
WEB: Final[Thresholds] = (10_000, 10, 10)
# Pollers (the poll command, once or --loop): a changed poll allocates about 150 tracked objects (the
# document, its diff and the statement's parameters). In cycles of 1,000 changed polls at concurrency 16
# (bench/poll.py) the collector took 0.32-0.44 s of CPU per cycle with Python's defaults, 0.12-0.16 s
# frozen at WEB's thresholds and 0.06-0.09 s frozen at these (docs/operations.md, eleventh round).
POLLER: Final[Thresholds] = (50_000, 20, 20)

_lock = threading.Lock()
_frozen = False


def settle(thresholds: Thresholds) -> bool:
    """Collect, freeze what start-up left alive and set ``thresholds``. The freeze happens once per process
    (a later call only sets the thresholds); True when this call froze."""
    global _frozen
    with _lock:
        froze = not _frozen
        if froze:
            gc.collect()  # start-up's garbage goes now: frozen, it would never be freed
            gc.freeze()
            _frozen = True
        gc.set_threshold(*thresholds)
    return froze


def detached(exc: E) -> E:
    """``exc`` without its traceback and without the exceptions it was raised from, to be kept past its ``except``.

    A traceback holds the frame that caught the exception, and every frame it passes holds its caller's
    (``f_back``, kept once a frame has returned). An exception kept where one of those frames reaches it (a local,
    a list, a future the frame awaited) closes a reference cycle that keeps every one of those frames and their
    locals (a body, a document, a response) until the collector's next pass. ``__context__`` carries such a
    traceback too, even behind ``raise ... from None``, which only hides it from printing. What is kept is the
    exception's type, message and attributes, which is all a caller reads of it; log the traceback first if it is
    wanted.
    """
    exc.__traceback__ = None
    exc.__cause__ = None
    exc.__context__ = None
    return exc
