"""Without Redis (embedded mode) the web process finds the poller's changes in the store itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from metrics.stores.base import MetricStore, SourceSpec
from pollers.models import Source
from realtime import watcher
from realtime.groups import ALL_GROUP
from realtime.watcher import StoreWatcher, watcher_for
from tests.realtime.conftest import SLUGS, status_payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sources")]


async def test_it_pushes_a_change_stored_by_another_process_without_a_publish(
    memory_layer: Any, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], record: Callable[..., Any]
) -> None:
    memory_layer.REALTIME_STORE_WATCH_INTERVAL = 0.1
    await record("us-east", status_payload(cpu_load=1.0))
    client = await connect([session_cookie])
    reply = await client.request({"type": "subscribe", "sources": ["us-east"]})
    assert reply["snapshots"][0]["sequence"] == 1

    # The poller (another process in embedded mode) stores a change; its publish cannot reach us.
    changed = await record("us-east", status_payload(cpu_load=2.0))
    update = await client.receive(timeout=5)
    assert (update["type"], update["source"], update["sequence"]) == ("update", "us-east", changed.sequence)
    assert update["hash"] == changed.hash
    assert update["metrics"]["cpu_load"] == 2.0
    assert update["payload"]["results"]["stats"]["server"]["cpu_load"] == 2.0
    assert {"path": "results.stats.server.cpu_load", "old": 1.0, "new": 2.0, "kind": "changed"} in update["diff"]
    assert await client.nothing(0.4), "each change is announced once"


async def test_it_stops_watching_when_the_last_connection_closes(
    memory_layer: Any, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes]
) -> None:
    memory_layer.REALTIME_STORE_WATCH_INTERVAL = 0.1
    first = await connect([session_cookie])
    second = await connect([session_cookie])
    watcher = watcher_for(get_channel_layer(), 0.1)
    assert watcher.holders == 2
    assert watcher.task is not None
    await first.communicator.disconnect()
    assert watcher.task is not None
    await second.communicator.disconnect()
    assert (watcher.holders, watcher.task) == (0, None)


async def test_it_does_not_watch_the_store_when_redis_carries_the_updates(
    redis_settings: Any, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], record: Callable[..., Any]
) -> None:
    redis_settings.REALTIME_STORE_WATCH_INTERVAL = 0.1
    client = await connect([session_cookie])
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    await record("us-east", status_payload(cpu_load=3.0))
    assert await client.nothing(0.6)


class SentLayer:
    """A channel layer that keeps what the watcher sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append((group, message))


async def test_it_reads_the_documents_of_the_moved_sources_only_a_chunk_at_a_time(
    store: MetricStore, sources: list[Source], record: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every look (every REALTIME_STORE_WATCH_INTERVAL seconds) read every source's latest document (latest_all),
    moved or not, to compare sequences."""
    monkeypatch.setattr(watcher, "WATCH_CHUNK", 2, raising=False)
    for slug in SLUGS:
        await record(slug, status_payload(cpu_load=1.0))
    await sync_to_async(store.record)(SourceSpec("sa-east"), status_payload(), datetime.now(UTC))
    looks: list[str] = []
    read: list[list[str]] = []  # the sources whose documents each read returned
    for name in ("latest", "latest_all", "latest_of", "latest_heads"):
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            found = _real(*args, **kwargs)
            looks.append(_name)
            if _name != "latest_heads":
                read.append(sorted(found) if isinstance(found, dict) else [found.source] if found else [])
            return found

        monkeypatch.setattr(store, name, counted)

    def move_three() -> None:
        # In one call on the database thread the watcher's reads share: it sees none of the changes or all three.
        for source in sources:
            store.record(source.spec(), status_payload(cpu_load=2.0), datetime.now(UTC))

    layer = SentLayer()
    looking = StoreWatcher(layer, 0.02)  # type: ignore[arg-type]
    looking.acquire()
    try:
        for _ in range(250):
            if looks:
                break
            await asyncio.sleep(0.02)
        await sync_to_async(move_three)()
        for _ in range(250):
            if len(layer.sent) == 2 * len(SLUGS):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # a few more looks: nothing moved since
    finally:
        looking.release()

    assert read == [["ap-southeast", "eu-west"], ["us-east"]]
    announced = [(message["source"], message["sequence"]) for group, message in layer.sent if group != ALL_GROUP]
    assert sorted(announced) == [(slug, 2) for slug in sorted(SLUGS)]
