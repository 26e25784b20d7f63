"""Try a source before saving it: one fetch through the poller's own fetcher, each metric path extracted.

Nothing is stored and no health field changes: the result only says what a poll would get. The fetch is
the real one (SSRF guard, timeouts, body cap, JSON parsing), without retries so a dead URL answers fast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metrics.extraction import WILDCARD, extract_metrics, split_path
from metrics.serialization import number
from pollers.fetch import Fetcher, FetchPolicy
from pollers.transport import Transport

MAX_PATH_SEGMENTS = 32
PATH_SEGMENT = re.compile(r"^(?:[A-Za-z0-9_\-]+|\*)$")
METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,119}$")


def path_error(path: str) -> str | None:
    """Why ``path`` is malformed (a sentence), or None when its syntax is fine."""
    text = path.strip()
    if not text:
        return "the path is empty: write a dotted path such as results.stats.server.cpu_load"
    segments = text.split(".")
    if len(segments) > MAX_PATH_SEGMENTS:
        return f"the path has more than {MAX_PATH_SEGMENTS} segments"
    for segment in segments:
        if not segment:
            return f"the path {text!r} has an empty segment (two dots, or a dot at an end)"
        if not PATH_SEGMENT.match(segment):
            return f"the segment {segment!r} may hold only letters, digits, _ and -, or be * for every element"
    return None


def metric_name_error(name: str) -> str | None:
    if METRIC_NAME.match(name):
        return None
    return f"the metric name {name!r} must start with a letter or _ and hold only letters, digits and _ (max 120)"


@dataclass(frozen=True)
class PathResult:
    name: str
    path: str
    value: float | None  # what a poll would store, None when the path matches no number
    problem: str = ""  # why nothing is extracted, for the person who wrote the path

    @property
    def matched(self) -> bool:
        return self.value is not None

    @property
    def shown(self) -> str:
        """The value as the API would write it: 38.3, 569 (not 38.3000, 569.0)."""
        return "" if self.value is None else str(number(self.value))


@dataclass
class ProbeResult:
    ok: bool
    status_code: int | None = None
    latency_ms: float | None = None
    error_kind: str = ""
    error_message: str = ""
    top_level_keys: list[str] = field(default_factory=list)
    paths: list[PathResult] = field(default_factory=list)

    @property
    def unmatched(self) -> list[PathResult]:
        return [p for p in self.paths if not p.matched]


def _why_nothing(payload: Any, segments: list[str]) -> str:
    """Where the path stops matching: the first segment with no key there, or a value that is not a number."""
    node = payload
    walked: list[str] = []
    for segment in segments:
        if segment == WILDCARD:
            return "no number under the * segment"
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.lstrip("-").isdigit() and -len(node) <= int(segment) < len(node):
            node = node[int(segment)]
        else:
            where = ".".join(walked) or "the top level"
            return f"matches nothing: no {segment!r} under {where}"
        walked.append(segment)
    return f"matches {type(node).__name__} {str(node)[:40]!r}, not a number"


def probe(
    url: str,
    headers: Mapping[str, str],
    timeout: float,
    metric_paths: Mapping[str, str],
    fetcher: Fetcher | None = None,
    transport: Transport | None = None,
) -> ProbeResult:
    """``transport``: the source's proxy and TLS settings (``pollers.credentials.request_for``), as a poll uses."""
    fetcher = fetcher or Fetcher(FetchPolicy.from_settings(retries=0))
    try:
        fetched = fetcher.fetch(url, headers, timeout, poll_id="probe", transport=transport)
    finally:
        fetcher.close()
    result = ProbeResult(
        ok=fetched.ok,
        status_code=fetched.status_code,
        latency_ms=fetched.latency_ms,
        error_kind=fetched.error_kind,
        error_message=fetched.error_message,
    )
    if not fetched.ok or fetched.payload is None:
        return result
    payload = fetched.payload
    result.top_level_keys = sorted(str(k) for k in payload)[:50]
    values = extract_metrics(payload, {n: p for n, p in metric_paths.items() if path_error(p) is None})
    for name, path in metric_paths.items():
        error = path_error(path)
        if error:
            result.paths.append(PathResult(name, path, None, error))
        elif name in values:
            result.paths.append(PathResult(name, path, values[name]))
        else:
            result.paths.append(PathResult(name, path, None, _why_nothing(payload, split_path(path))))
    return result
