"""The product's ASGI application for bench/ws_memory.py, with tracemalloc switched on and read by signals.

Nothing is traced until SIGUSR1 (tracing with 10 frames starts and a baseline is taken); SIGUSR2 writes the
top growth sites since then to the file named by BENCH_TRACE_OUT and stops tracing. Until SIGUSR1 the
server is the product's own, so the RSS checkpoints taken before it are untraced.
"""

from __future__ import annotations

import os
import signal
import tracemalloc
from pathlib import Path
from types import FrameType

from _tracing import growth_sites

from devops_insights.asgi import application

TOP = 10
_baseline: list[tracemalloc.Snapshot] = []


def _start(signum: int, frame: FrameType | None) -> None:
    tracemalloc.start(10)
    _baseline[:] = [tracemalloc.take_snapshot()]


def _write(signum: int, frame: FrameType | None) -> None:
    lines = growth_sites(_baseline[0], TOP) if _baseline else []
    tracemalloc.stop()
    Path(os.environ["BENCH_TRACE_OUT"]).write_text("\n".join(lines) + "\n")


signal.signal(signal.SIGUSR1, _start)
signal.signal(signal.SIGUSR2, _write)

__all__ = ["application"]
