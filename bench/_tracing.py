"""Where memory grew between two tracemalloc snapshots, as printable lines: one home for the poller's
bench (bench/memory.py) and daphne's (bench/_traced_asgi.py for bench/ws_memory.py)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def growth_sites(baseline: tracemalloc.Snapshot, top: int) -> list[str]:
    """The ``top`` sites that grew most since ``baseline`` (tracing must still be on), each named by the
    innermost frame of the project's own code, else by the allocating frame."""
    lines = []
    for stat in tracemalloc.take_snapshot().compare_to(baseline, "traceback")[:top]:
        lines.append(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks  {_where(stat.traceback)}")
    return lines


def _where(traceback: tracemalloc.Traceback) -> str:
    for frame in reversed(traceback):  # the allocating frame first, then its callers
        if frame.filename.startswith(str(ROOT)) and "/.venv/" not in frame.filename:
            return f"{frame.filename.removeprefix(str(ROOT) + '/')}:{frame.lineno}"
    if len(traceback):
        last = traceback[-1]
        return f"{last.filename.split('site-packages/')[-1]}:{last.lineno}"
    return "?"
