"""A MongoMetricStore on the test MongoDB server, in a database of its own that is dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient

from metrics.stores.mongo import MongoMetricStore


def client_for(url: str, **options: Any) -> MongoClient[dict[str, Any]]:
    options.setdefault("serverSelectionTimeoutMS", 5000)
    return MongoClient(url, tz_aware=True, **options)


@contextmanager
def mongo_store(url: str, **options: Any) -> Iterator[MongoMetricStore]:
    client = client_for(url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    store = MongoMetricStore(client, name, **options)
    store.ensure_schema()
    try:
        yield store
    finally:
        client.drop_database(name)
        client.close()
