"""``kill -USR1 <pid>``: every thread's stack, written to the process's stderr, while it keeps running.

A poll that never finishes, or a web process that stops answering, logs nothing: the thread that waits does
not know it waits. This shows where each thread is, at once, without a debugger or a restart that would
lose the state to look at. The poll command and the web processes (``devops_insights/asgi.py``) install it
at start; ``docs/operations.md`` says how to use it.

The dump is Python's ``faulthandler``: written from the signal handler in C, so it works even when every
Python thread is blocked (a held lock, a socket read), and it costs nothing until the signal arrives. It
holds file names, line numbers and function names, never values: nothing secret reaches the log.
"""

from __future__ import annotations

import faulthandler
import io
import signal
import sys
from typing import TextIO

SIGNAL = getattr(signal, "SIGUSR1", None)  # None on platforms without it (Windows)


def install(stream: TextIO | None = None) -> bool:
    """Dump every thread's stack to ``stream`` (stderr) on SIGUSR1; False where that cannot be set up."""
    if SIGNAL is None:
        return False
    try:
        # faulthandler writes to the file descriptor: a stream without one (a test's capture) cannot take it.
        faulthandler.register(SIGNAL, file=stream or sys.stderr, all_threads=True)
    except (ValueError, RuntimeError, io.UnsupportedOperation, AttributeError):
        return False
    return True
