"""Shared by the metrics tests: a fixed moment and the percentile checks of the availability tests, and the
statements a piece of work sends (the ``store`` fixture over every store is tests/metrics/conftest.py's)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")

# A fixed Sunday noon, so every bucket boundary below is computed by hand.
NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def nearest_rank(samples: Sequence[float], p: float) -> float:
    """The exact nearest-rank percentile, by hand: the smallest sample with at least p% at or below it."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(p * len(ordered) / 100 - 1e-9))
    return ordered[rank - 1]


def within_bound(estimate: float, exact: float, relative: float) -> bool:
    if exact < 1:  # below the first bin boundary the bound is absolute: half a millisecond
        return abs(estimate - exact) <= 0.5
    return abs(estimate - exact) <= relative * exact + 1e-9


def statements_sent(alias: str, work: Callable[[], T]) -> tuple[T, list[str]]:
    """What ``work`` returns, and the SQL of every statement it sent on the ``alias`` connection, in order."""
    sent: list[str] = []

    def watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(watch):
        return work(), sent
