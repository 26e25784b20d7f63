"""Shared by the availability tests: a fixed moment and the percentile checks (the ``store`` fixture
over every store is tests/metrics/conftest.py's)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

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
