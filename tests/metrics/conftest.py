"""Fixtures shared by the metrics tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metrics.stores.base import MetricStore
from tests.any_store import STORE_KINDS, open_store


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest) -> Iterator[MetricStore]:
    """Each real store in turn, on a real database: SQLite, PostgreSQL, MongoDB (a module may define its own)."""
    with open_store(request, request.param) as opened:
        yield opened
