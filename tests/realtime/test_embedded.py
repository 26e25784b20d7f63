"""Without Redis (embedded mode) the web process finds the poller's changes in the store itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.layers import get_channel_layer

from realtime.watcher import watcher_for
from tests.realtime.conftest import status_payload

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
