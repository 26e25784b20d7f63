"""The upstream simulator for tests: a real HTTP server on a free loopback port."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pollers.simulator.server import RunningSimulator

__all__ = ["RunningSimulator", "control", "mid_window", "steady_simulator"]
STEADY_WINDOW = 3600.0


def mid_window(running: RunningSimulator) -> RunningSimulator:
    """``running`` with its clock set to the middle of a window: its documents change by themselves only
    half a window after the test starts, not at a wall-clock boundary that may fall between two requests
    (a test that wants a new document calls ``advance``)."""
    window = running.state.window_seconds
    now = time.time()
    with running.state.lock:
        running.state.offset = (now // window + 0.5) * window - now
    return running


@contextmanager
def steady_simulator() -> Iterator[RunningSimulator]:
    """A simulator whose documents do not change by themselves during a test, however slow the machine:
    an hour's window, started in its middle."""
    running = mid_window(RunningSimulator("127.0.0.1", 0, window_seconds=STEADY_WINDOW)).start()
    try:
        yield running
    finally:
        running.stop()


def control(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """Call the simulator's control API over HTTP, the way another process would."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base_url}{path}", data=data, method=method)  # noqa: S310 - loopback only
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
