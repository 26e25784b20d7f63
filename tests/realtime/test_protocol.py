"""Every message type of the ws/metrics/ protocol, both ways (docs/websocket-protocol.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from realtime.events import publish_alert, publish_source_status, publish_update
from tests.factories import make_source
from tests.realtime.conftest import status_payload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def client(
    any_layer: str, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], sources: list[Any]
) -> Any:
    """A logged-in client, on the in-memory layer and on both channels-redis layers (real Redis)."""
    return await connect([session_cookie])


async def test_it_sends_the_current_snapshot_of_each_source_on_subscribe(
    client: Any, record: Callable[..., Any]
) -> None:
    east = await record("us-east", status_payload(cpu_load=10.0))
    west = await record("eu-west", status_payload(cpu_load=20.0))

    reply = await client.request({"type": "subscribe", "sources": ["us-east", "eu-west", "ap-southeast"], "id": "s1"})

    assert reply["type"] == "snapshot"
    assert reply["id"] == "s1"
    assert reply["subscribed"] == ["ap-southeast", "eu-west", "us-east"]
    by_source = {snapshot["source"]: snapshot for snapshot in reply["snapshots"]}
    assert set(by_source) == {"us-east", "eu-west"}
    assert by_source["us-east"]["hash"] == east.hash
    assert by_source["us-east"]["sequence"] == east.sequence
    assert by_source["us-east"]["metrics"]["cpu_load"] == 10.0
    assert by_source["us-east"]["payload"]["results"]["stats"]["server"]["cpu_load"] == 10.0
    assert by_source["eu-west"]["hash"] == west.hash
    datetime.fromisoformat(by_source["eu-west"]["fetched_at"])
    datetime.fromisoformat(by_source["eu-west"]["last_seen_at"])
    # Registered but never polled: named, so the client can show "waiting for data".
    assert reply["pending"] == ["ap-southeast"]
    assert reply["unchanged"] == []


async def test_it_skips_sources_whose_hash_the_client_already_has(client: Any, record: Callable[..., Any]) -> None:
    east = await record("us-east", status_payload(cpu_load=10.0))
    await record("eu-west", status_payload(cpu_load=20.0))

    reply = await client.request(
        {"type": "subscribe", "sources": ["us-east", "eu-west"], "known": {"us-east": east.hash, "eu-west": "ab" * 20}}
    )

    assert [s["source"] for s in reply["snapshots"]] == ["eu-west"]
    assert reply["unchanged"] == ["us-east"]


async def test_it_resends_a_snapshot_when_the_known_sequence_is_stale(client: Any, record: Callable[..., Any]) -> None:
    # The content went A -> B -> A: same hash, but the client missed two changes.
    first = await record("us-east", status_payload(cpu_load=10.0))
    await record("us-east", status_payload(cpu_load=11.0))
    now = await record("us-east", status_payload(cpu_load=10.0))
    assert now.hash == first.hash

    stale = await client.request(
        {"type": "subscribe", "sources": ["us-east"], "known": {"us-east": {"hash": first.hash, "sequence": 1}}}
    )
    assert [s["sequence"] for s in stale["snapshots"]] == [now.sequence]

    current = await client.request(
        {
            "type": "subscribe",
            "sources": ["us-east"],
            "known": {"us-east": {"hash": now.hash, "sequence": now.sequence}},
        }
    )
    assert current["snapshots"] == []
    assert current["unchanged"] == ["us-east"]


async def test_it_pushes_an_update_after_a_change_is_published(client: Any, record: Callable[..., Any]) -> None:
    await record("us-east", status_payload(cpu_load=10.0))
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    payload = status_payload(cpu_load=55.5)
    result = await record("us-east", payload)
    fetched_at = datetime.now(UTC)

    assert await sync_to_async(publish_update)("us-east", result, fetched_at, "poll-1", payload=payload)

    update = await client.receive()
    assert update["type"] == "update"
    assert update["source"] == "us-east"
    assert update["hash"] == result.hash
    assert update["sequence"] == result.sequence == 2
    assert update["fetched_at"] == fetched_at.isoformat()
    assert update["metrics"]["cpu_load"] == 55.5
    assert update["payload"] == payload
    assert {"path", "old", "new", "kind"} <= set(update["diff"][0])
    assert update["diff"], "a changed record carries its field diff"
    assert datetime.fromisoformat(update["published_at"]) <= datetime.now(UTC)


async def test_it_sends_updates_only_for_subscribed_sources(client: Any, record: Callable[..., Any]) -> None:
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    other = await record("eu-west", status_payload(cpu_load=1.0))
    await sync_to_async(publish_update)("eu-west", other, datetime.now(UTC))
    assert await client.nothing()


async def test_it_drops_an_update_the_snapshot_already_contained(
    client: Any, record: Callable[..., Any], store: Any
) -> None:
    result = await record("us-east", status_payload(cpu_load=10.0))
    stored = await sync_to_async(store.latest)("us-east")
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    # The poller's publish for the change the snapshot already showed arrives late.
    await sync_to_async(publish_update)("us-east", result, stored.fetched_at)
    assert await client.nothing()
    newer = await record("us-east", status_payload(cpu_load=12.0))
    await sync_to_async(publish_update)("us-east", newer, datetime.now(UTC))
    assert (await client.receive())["sequence"] == newer.sequence


async def test_it_subscribes_to_all_sources_including_ones_added_later(
    client: Any, record: Callable[..., Any], store: Any
) -> None:
    await record("us-east", status_payload())
    reply = await client.request({"type": "subscribe", "sources": "all"})
    assert reply["subscribed"] == "all"
    assert [s["source"] for s in reply["snapshots"]] == ["us-east"]
    assert reply["pending"] == ["ap-southeast", "eu-west"]

    added = await sync_to_async(make_source)("sa-east")
    result = await sync_to_async(store.record)(added.spec(), status_payload(), datetime.now(UTC))
    await sync_to_async(publish_update)("sa-east", result, datetime.now(UTC))
    update = await client.receive()
    assert (update["type"], update["source"]) == ("update", "sa-east")


async def test_it_stops_updates_after_unsubscribe(client: Any, record: Callable[..., Any]) -> None:
    await client.request({"type": "subscribe", "sources": ["us-east", "eu-west"]})
    reply = await client.request({"type": "unsubscribe", "sources": ["us-east"], "id": 7})
    assert reply == {"type": "unsubscribed", "id": 7, "sources": ["us-east"], "subscribed": ["eu-west"]}

    east = await record("us-east", status_payload(cpu_load=3.0))
    await sync_to_async(publish_update)("us-east", east, datetime.now(UTC))
    west = await record("eu-west", status_payload(cpu_load=4.0))
    await sync_to_async(publish_update)("eu-west", west, datetime.now(UTC))
    assert (await client.receive())["source"] == "eu-west"
    assert await client.nothing()

    everything = await client.request({"type": "unsubscribe"})
    assert everything["subscribed"] == []
    again = await record("eu-west", status_payload(cpu_load=5.0))
    await sync_to_async(publish_update)("eu-west", again, datetime.now(UTC))
    assert await client.nothing()


async def test_it_excludes_one_source_from_an_all_subscription(client: Any, record: Callable[..., Any]) -> None:
    await client.request({"type": "subscribe", "sources": "all"})
    reply = await client.request({"type": "unsubscribe", "sources": ["us-east"]})
    assert (reply["subscribed"], reply["excluded"]) == ("all", ["us-east"])
    east = await record("us-east", status_payload(cpu_load=3.0))
    await sync_to_async(publish_update)("us-east", east, datetime.now(UTC))
    assert await client.nothing()

    back = await client.request({"type": "subscribe", "sources": ["us-east"]})
    assert (back["subscribed"], back["excluded"]) == ("all", [])
    assert [s["sequence"] for s in back["snapshots"]] == [east.sequence]


async def test_it_answers_get_for_one_source_and_for_all(client: Any, record: Callable[..., Any]) -> None:
    east = await record("us-east", status_payload(cpu_load=10.0))
    await record("eu-west", status_payload(cpu_load=20.0))

    one = await client.request({"type": "get", "source": "us-east", "id": "g1"})
    assert one["type"] == "snapshot"
    assert one["id"] == "g1"
    assert [(s["source"], s["hash"]) for s in one["snapshots"]] == [("us-east", east.hash)]
    assert "subscribed" not in one, "get does not subscribe"

    every = await client.request({"type": "get"})
    assert [s["source"] for s in every["snapshots"]] == ["eu-west", "us-east"]
    assert every["pending"] == ["ap-southeast"]

    # get does not subscribe: later changes are not pushed.
    changed = await record("us-east", status_payload(cpu_load=99.0))
    await sync_to_async(publish_update)("us-east", changed, datetime.now(UTC))
    assert await client.nothing()


async def test_it_pages_through_history_newest_first(client: Any, record: Callable[..., Any]) -> None:
    results = [await record("us-east", status_payload(cpu_load=float(i))) for i in range(5)]

    first = await client.request({"type": "history", "source": "us-east", "limit": 2, "id": "h"})
    assert first["type"] == "history"
    assert first["id"] == "h"
    assert first["source"] == "us-east"
    assert [e["sequence"] for e in first["entries"]] == [5, 4]
    assert [e["hash"] for e in first["entries"]] == [results[4].hash, results[3].hash]
    assert "payload" not in first["entries"][0]
    assert first["entries"][0]["metrics"]["cpu_load"] == 4.0
    assert first["entries"][0]["diff"]
    assert first["next_cursor"]

    second = await client.request(
        {"type": "history", "source": "us-east", "limit": 2, "cursor": first["next_cursor"], "include_payload": True}
    )
    assert [e["sequence"] for e in second["entries"]] == [3, 2]
    assert second["entries"][0]["payload"]["results"]["stats"]["server"]["cpu_load"] == 2.0


async def test_it_limits_history_to_a_time_range(client: Any, record: Callable[..., Any]) -> None:
    await record("us-east", status_payload(cpu_load=1.0))
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    none = await client.request({"type": "history", "source": "us-east", "from": future})
    assert none["entries"] == []
    assert none["next_cursor"] is None
    some = await client.request({"type": "history", "source": "us-east", "from": past, "to": future})
    assert len(some["entries"]) == 1


async def test_it_forwards_source_status_to_subscribers(client: Any) -> None:
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    detail = {"error_kind": "timeout", "consecutive_failures": 3}
    assert await sync_to_async(publish_source_status)("us-east", "failing", detail)
    assert await client.receive() == {
        "type": "source_status",
        "source": "us-east",
        "status": "failing",
        "detail": detail,
    }
    await sync_to_async(publish_source_status)("eu-west", "circuit_open", {})
    assert await client.nothing()


async def test_it_forwards_alerts_to_subscribers(client: Any) -> None:
    await client.request({"type": "subscribe", "sources": "all"})
    event = {"rule": "cpu high", "severity": "critical", "state": "firing", "value": 97.5}
    assert await sync_to_async(publish_alert)("eu-west", event)
    assert await client.receive() == {"type": "alert", "source": "eu-west", "event": event}


async def test_it_sends_the_updates_of_a_source_deleted_and_created_again(
    client: Any, record: Callable[..., Any], store: Any
) -> None:
    for n in range(3):
        await record("us-east", status_payload(cpu_load=float(n)))
    subscribed = await client.request({"type": "subscribe", "sources": "all"})
    assert [s["sequence"] for s in subscribed["snapshots"] if s["source"] == "us-east"] == [3]
    # Deleted (its data with it) and created again under the same slug: its changes count from 1 again.
    await sync_to_async(store.delete_source)("us-east")
    again = await record("us-east", status_payload(cpu_load=50.0))
    assert again.sequence == 1
    await sync_to_async(publish_update)("us-east", again, datetime.now(UTC))
    update = await client.receive()
    assert (update["source"], update["sequence"]) == ("us-east", 1)
    # And an old copy of that update, arriving late, is still dropped.
    await sync_to_async(publish_update)("us-east", again, datetime.now(UTC) - timedelta(seconds=5))
    assert await client.nothing()
