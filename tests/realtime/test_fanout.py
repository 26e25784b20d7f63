"""Group fan-out: one publish reaches every subscribed connection, on every channel layer we ship."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from metrics.stores.base import RecordResult
from observability.instruments import WEBSOCKET_ENCODES
from realtime.events import publish_alert, publish_source_status, publish_update
from realtime.groups import source_group
from tests.realtime.conftest import status_payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sources")]


async def test_it_fans_one_update_out_to_every_subscriber(
    any_layer: str, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], record: Callable[..., Any]
) -> None:
    one_source = await connect([session_cookie])
    every_source = await connect([session_cookie])
    other_source = await connect([session_cookie])
    await one_source.request({"type": "subscribe", "sources": ["us-east"]})
    await every_source.request({"type": "subscribe", "sources": "all"})
    await other_source.request({"type": "subscribe", "sources": ["eu-west"]})

    result = await record("us-east", status_payload(cpu_load=77.0))
    assert await sync_to_async(publish_update)("us-east", result, datetime.now(UTC))

    for client in (one_source, every_source):
        update = await client.receive()
        assert (update["type"], update["source"], update["sequence"]) == ("update", "us-east", result.sequence)
        assert update["metrics"]["cpu_load"] == 77.0
        assert await client.nothing(0.2), "exactly one copy per connection"
    assert await other_source.nothing(0.2)

    await sync_to_async(publish_source_status)("us-east", "recovered", {})
    await sync_to_async(publish_alert)("us-east", {"rule": "r", "state": "resolved"})
    for client in (one_source, every_source):
        assert (await client.receive())["type"] == "source_status"
        assert (await client.receive())["type"] == "alert"


async def test_it_keeps_per_source_order_with_publishers_on_many_threads(
    any_layer: str, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes]
) -> None:
    client = await connect([session_cookie])
    await client.request({"type": "subscribe", "sources": "all"})
    per_thread = 15
    slugs = ("us-east", "eu-west", "ap-southeast")

    def publish_many(slug: str) -> None:
        for sequence in range(1, per_thread + 1):
            result = RecordResult(changed=True, hash=f"{sequence:040x}", metrics={}, sequence=sequence, diff=[])
            assert publish_update(slug, result, datetime.now(UTC))

    def publish_all() -> None:
        threads = [threading.Thread(target=publish_many, args=(slug,)) for slug in slugs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    await sync_to_async(publish_all)()
    received: dict[str, list[int]] = {slug: [] for slug in slugs}
    for _ in range(per_thread * len(slugs)):
        update = await client.receive()
        received[update["source"]].append(update["sequence"])
    assert received == {slug: list(range(1, per_thread + 1)) for slug in slugs}


async def test_it_keeps_a_redis_group_membership_alive_past_the_group_expiry(
    redis_settings: Any, redis_url: str, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes]
) -> None:
    # channels-redis drops members older than group_expiry; the consumer re-joins at half of it.
    redis_settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "group_expiry": 2},
        }
    }
    client = await connect([session_cookie])
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    await asyncio.sleep(3.5)
    result = RecordResult(changed=True, hash="ab" * 20, metrics={}, sequence=1, diff=[])
    assert await sync_to_async(publish_update)("us-east", result, datetime.now(UTC))
    assert (await client.receive())["sequence"] == 1


async def test_it_delivers_updates_while_the_database_thread_is_busy(
    memory_layer: Any, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes]
) -> None:
    """Pushing an update must not wait for the one thread that serves database calls."""
    client = await connect([session_cookie])
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    busy = asyncio.ensure_future(sync_to_async(time.sleep, thread_sensitive=True)(2.0))
    await asyncio.sleep(0.1)
    event = {
        "type": "metric.update",
        "source": "us-east",
        "hash": "cd" * 20,
        "sequence": 1,
        "fetched_at": datetime.now(UTC).isoformat(),
        "metrics": {},
        "diff": [],
    }
    await get_channel_layer().group_send(source_group("us-east"), event)
    assert (await client.receive(timeout=1.0))["sequence"] == 1
    await busy


async def test_it_joins_a_redis_group_once_per_process_however_many_connections(
    redis_settings: Any, redis_client: Any, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes]
) -> None:
    clients = [await connect([session_cookie]) for _ in range(3)]
    for client in clients:
        await client.request({"type": "subscribe", "sources": ["us-east"]})
    # channels-redis keeps a group as a sorted set of channel names.
    assert redis_client.zcard("asgi:group:metrics.us-east") == 1
    for client in clients[:2]:
        await client.request({"type": "unsubscribe"})
    assert redis_client.zcard("asgi:group:metrics.us-east") == 1
    await clients[2].request({"type": "unsubscribe"})
    assert redis_client.zcard("asgi:group:metrics.us-east") == 0


async def test_it_encodes_each_event_once_per_process_however_many_connections_get_it(
    any_layer: str, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], record: Callable[..., Any]
) -> None:
    # Two of the clients sit in metrics.us-east, two in metrics.all: the process receives a copy per group.
    clients = [await connect([session_cookie]) for _ in range(4)]
    for client, sources in zip(clients, (["us-east"], ["us-east"], "all", "all"), strict=True):
        await client.request({"type": "subscribe", "sources": sources})

    def encodes(kind: str) -> float:
        return float(WEBSOCKET_ENCODES.labels(type=kind)._value.get())

    before = {kind: encodes(kind) for kind in ("update", "source_status", "alert")}
    result = await record("us-east", status_payload(cpu_load=12.5))
    assert await sync_to_async(publish_update)("us-east", result, datetime.now(UTC))
    await sync_to_async(publish_source_status)("us-east", "failing", {"error_kind": "timeout"})
    await sync_to_async(publish_alert)("us-east", {"rule": "r", "state": "firing"})

    texts: list[list[str]] = []
    for client in clients:
        texts.append([json.dumps(await client.receive(), sort_keys=True) for _ in range(3)])
        assert await client.nothing(0.2), "exactly one copy per connection"
    assert all(received == texts[0] for received in texts), "every connection got the same messages"
    assert [json.loads(text)["type"] for text in texts[0]] == ["update", "source_status", "alert"]
    assert {kind: encodes(kind) - before[kind] for kind in before} == {"update": 1, "source_status": 1, "alert": 1}


async def test_it_fills_a_gap_left_by_a_poller_killed_between_storing_and_publishing(
    any_layer: str, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], record: Callable[..., Any]
) -> None:
    client = await connect([session_cookie])
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    first = await record("us-east", status_payload(cpu_load=10.0))
    assert await sync_to_async(publish_update)("us-east", first, datetime.now(UTC))
    assert (await client.receive())["sequence"] == first.sequence
    # Stored but never published (the poller died in between), then the next change is published.
    missed = [await record("us-east", status_payload(cpu_load=20.0 + i)) for i in range(2)]
    latest = await record("us-east", status_payload(cpu_load=30.0))
    assert await sync_to_async(publish_update)("us-east", latest, datetime.now(UTC))

    received = [await client.receive(10) for _ in range(3)]
    assert [u["sequence"] for u in received] == [missed[0].sequence, missed[1].sequence, latest.sequence]
    assert [u["metrics"]["cpu_load"] for u in received] == [20.0, 21.0, 30.0]
    assert received[0]["payload"]["results"]["stats"]["server"]["cpu_load"] == 20.0
    assert await client.nothing(0.2)


async def test_it_encodes_a_snapshot_once_per_stored_state_however_many_connections_get_it(
    memory_layer: Any, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], record: Callable[..., Any]
) -> None:
    def encodes() -> float:
        return float(WEBSOCKET_ENCODES.labels(type="snapshot")._value.get())

    async def get_us_east() -> dict[str, Any]:
        client = await connect([session_cookie])
        reply = await client.request({"type": "get", "source": "us-east", "id": 7})
        assert (reply["type"], reply["id"], reply["pending"]) == ("snapshot", 7, [])
        snapshot: dict[str, Any] = reply["snapshots"][0]
        return snapshot

    first = await record("us-east", status_payload(cpu_load=12.5))
    before = encodes()
    clients = [await connect([session_cookie]) for _ in range(3)]
    replies = [await client.request({"type": "subscribe", "sources": ["us-east"]}) for client in clients]
    assert all(reply == replies[0] for reply in replies)
    assert (replies[0]["subscribed"], replies[0]["unchanged"]) == (["us-east"], [])
    assert [snapshot["sequence"] for snapshot in replies[0]["snapshots"]] == [first.sequence]
    assert replies[0]["snapshots"][0]["payload"] == status_payload(cpu_load=12.5)
    assert encodes() - before == 1

    # Never a stale text: a stored change, then an unchanged poll (only last_seen_at moves), are sent as stored.
    second = await record("us-east", status_payload(cpu_load=99.0))
    changed = await get_us_east()
    assert (changed["sequence"], changed["payload"]) == (second.sequence, status_payload(cpu_load=99.0))
    assert encodes() - before == 2
    await record("us-east", status_payload(cpu_load=99.0))
    seen_again = await get_us_east()
    assert seen_again["sequence"] == second.sequence
    assert seen_again["last_seen_at"] > changed["last_seen_at"]
    assert encodes() - before == 3
