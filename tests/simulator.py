"""The upstream simulator for tests: a real HTTP server on a free loopback port."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from pollers.simulator.server import RunningSimulator

__all__ = ["RunningSimulator", "control"]


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
