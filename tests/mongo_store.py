"""A MongoMetricStore on the test MongoDB server, in a database of its own that is dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient, monitoring

from metrics.stores.mongo import MongoMetricStore


def client_for(url: str, **options: Any) -> MongoClient[dict[str, Any]]:
    options.setdefault("serverSelectionTimeoutMS", 5000)
    return MongoClient(url, tz_aware=True, **options)


class CommandLog(monitoring.CommandListener):
    """The names of the commands a client sent (a pymongo command listener): one per round trip."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextmanager
def mongo_store(url: str, log: CommandLog | None = None, **options: Any) -> Iterator[MongoMetricStore]:
    """``log``, when given, hears every command the store's client sends."""
    client = client_for(url) if log is None else client_for(url, event_listeners=[log])
    name = f"test_{uuid.uuid4().hex[:12]}"
    store = MongoMetricStore(client, name, **options)
    store.ensure_schema()
    try:
        yield store
    finally:
        client.drop_database(name)
        client.close()
