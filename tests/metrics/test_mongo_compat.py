"""Where nx-27017 answers differently from real MongoDB, for the constructs the MongoDB store avoids.

Each test asserts real-MongoDB behaviour. On nx-27017 it is an expected failure (the store uses a
form correct on both instead, named in the reason); against a real mongod (MONGODB_TEST_URL) the
marker is off and the test must pass.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import OperationFailure

from tests.mongo_store import client_for

REAL_MONGODB = bool(os.environ.get("MONGODB_TEST_URL"))
WHEN = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def nx_differs(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(not REAL_MONGODB, reason=f"nx-27017: {reason}", strict=True)


@pytest.fixture
def db(mongodb_url: str) -> Iterator[Database[dict[str, Any]]]:
    client = client_for(mongodb_url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)
    client.close()


@nx_differs("a top-level date given to $set is stored as a string (the store replaces whole documents)")
def test_it_keeps_a_date_set_with_set(db: Database[dict[str, Any]]) -> None:
    db.docs.insert_one({"_id": 1})
    db.docs.update_one({"_id": 1}, {"$set": {"at": WHEN}})
    assert db.docs.find_one({"_id": 1}) == {"_id": 1, "at": WHEN}


@nx_differs("$min of dates in $group comes back as a string (stats() sorts and takes one document)")
def test_it_groups_dates_with_min(db: Database[dict[str, Any]]) -> None:
    db.docs.insert_many([{"at": WHEN}, {"at": WHEN.replace(hour=13)}])
    [row] = db.docs.aggregate([{"$group": {"_id": None, "oldest": {"$min": "$at"}}}])
    assert row["oldest"] == WHEN


@nx_differs("$dateTrunc groups come back as strings (series() buckets by arithmetic on epoch_ms)")
def test_it_truncates_dates_in_a_group(db: Database[dict[str, Any]]) -> None:
    db.docs.insert_many([{"at": WHEN.replace(minute=m)} for m in (1, 2, 7)])
    rows = list(
        db.docs.aggregate(
            [
                {"$group": {"_id": {"$dateTrunc": {"date": "$at", "unit": "minute", "binSize": 5}}, "n": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert rows == [{"_id": WHEN, "n": 2}, {"_id": WHEN.replace(minute=5), "n": 1}]


@nx_differs("create_index with another TTL silently succeeds (the store changes a TTL with collMod)")
def test_it_refuses_an_index_with_conflicting_options(db: Database[dict[str, Any]]) -> None:
    db.docs.create_index([("at", 1)], expireAfterSeconds=60)
    with pytest.raises(OperationFailure) as raised:
        db.docs.create_index([("at", 1)], expireAfterSeconds=120)
    assert raised.value.code in (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict
