"""Shared by the availability tests: the ``store`` fixture over every store (as the store contract
suite parametrises it: SQLite, PostgreSQL, MongoDB) and small helpers."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from metrics.stores.base import MetricStore
from tests.conftest import sql_alias

# A fixed Sunday noon, so every bucket boundary below is computed by hand.
NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _sql_param(kind: str) -> Any:
    return pytest.param(kind, marks=pytest.mark.django_db(databases=[sql_alias(kind)], transaction=True), id=kind)


STORE_KINDS = [_sql_param("sqlite"), _sql_param("postgres"), pytest.param("mongodb", id="mongodb")]


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest) -> Iterator[MetricStore]:
    kind = request.param
    if kind == "mongodb":
        from tests.mongo_store import mongo_store

        with mongo_store(request.getfixturevalue("mongodb_url")) as mongo:
            yield mongo
        return
    if kind == "postgres":
        request.getfixturevalue("postgres_url")
    from metrics.stores.sql import SqlMetricStore

    yield SqlMetricStore(using=sql_alias(kind))


def nearest_rank(samples: Sequence[float], p: float) -> float:
    """The exact nearest-rank percentile, by hand: the smallest sample with at least p% at or below it."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(p * len(ordered) / 100 - 1e-9))
    return ordered[rank - 1]


def within_bound(estimate: float, exact: float, relative: float) -> bool:
    if exact < 1:  # below the first bin boundary the bound is absolute: half a millisecond
        return abs(estimate - exact) <= 0.5
    return abs(estimate - exact) <= relative * exact + 1e-9
