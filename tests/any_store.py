"""Each real metric store for tests outside the contract suite: SQLite, PostgreSQL, MongoDB.

The same stores as tests/metrics/test_store_contract.py's ``store`` fixture (same parameters and marks), as a
context manager so several test modules can build their own fixture on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from metrics.stores.base import MetricStore
from tests.conftest import sql_alias

__all__ = ["STORE_KINDS", "open_store", "reopened"]


def _sql_param(kind: str) -> Any:
    return pytest.param(kind, marks=pytest.mark.django_db(databases=[sql_alias(kind)], transaction=True), id=kind)


STORE_KINDS = [_sql_param("sqlite"), _sql_param("postgres"), pytest.param("mongodb", id="mongodb")]


@contextmanager
def open_store(request: pytest.FixtureRequest, kind: str) -> Iterator[MetricStore]:
    if kind == "mongodb":
        from tests.mongo_store import mongo_store

        with mongo_store(request.getfixturevalue("mongodb_url")) as mongo:
            yield mongo
        return
    if kind == "postgres":
        request.getfixturevalue("postgres_url")
    from metrics.stores.sql import SqlMetricStore

    yield SqlMetricStore(using=sql_alias(kind))


def reopened(store: MetricStore) -> MetricStore:
    """A new store on ``store``'s database, as a restarted or another process opens it: it remembers nothing
    it did not read there (the SQL store's known hashes and the documents it diffs a change against)."""
    from metrics.stores.mongo import MongoMetricStore
    from metrics.stores.sql import SqlMetricStore

    if isinstance(store, SqlMetricStore):
        return SqlMetricStore(using=store.using)
    assert isinstance(store, MongoMetricStore), store
    return MongoMetricStore(store.client, store.db.name)
