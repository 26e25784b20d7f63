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

from devops_insights.asgi import application

ROOT = Path(__file__).resolve().parent.parent
TOP = 10
_baseline: list[tracemalloc.Snapshot] = []


def _start(signum: int, frame: FrameType | None) -> None:
    tracemalloc.start(10)
    _baseline[:] = [tracemalloc.take_snapshot()]


def _write(signum: int, frame: FrameType | None) -> None:
    lines = []
    if _baseline:
        top = tracemalloc.take_snapshot().compare_to(_baseline[0], "traceback")
        for stat in top[:TOP]:
            where = "?"
            for entry in reversed(stat.traceback):  # the innermost frame of the project's own code, else the last
                if str(ROOT) in entry.filename and "/.venv/" not in entry.filename:
                    where = f"{entry.filename.replace(str(ROOT) + '/', '')}:{entry.lineno}"
                    break
            else:
                if stat.traceback:
                    last = stat.traceback[-1]
                    where = f"{last.filename.split('site-packages/')[-1]}:{last.lineno}"
            lines.append(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks  {where}")
    tracemalloc.stop()
    Path(os.environ["BENCH_TRACE_OUT"]).write_text("\n".join(lines) + "\n")


signal.signal(signal.SIGUSR1, _start)
signal.signal(signal.SIGUSR2, _write)

__all__ = ["application"]
