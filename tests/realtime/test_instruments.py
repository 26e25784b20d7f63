"""The WebSocket instruments on /metrics move with real connections: open gauge, connects, messages sent."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.realtime.conftest import Client_, communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_layer", "sources")]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"devops_insights_{name}", labels) or 0.0


async def test_it_counts_an_accepted_connection_and_what_it_was_sent(session_cookie: tuple[bytes, bytes]) -> None:
    open_before = sample("websocket_connections")
    accepted_before = sample("websocket_connects_total", result="accepted")
    snapshots_before = sample("websocket_messages_sent_total", type="snapshot")

    comm = communicator([session_cookie])
    connected, _ = await comm.connect()
    assert connected
    assert sample("websocket_connections") == open_before + 1
    assert sample("websocket_connects_total", result="accepted") == accepted_before + 1

    reply = await Client_(comm).request({"type": "get", "source": "us-east", "id": 1})
    assert reply["type"] == "snapshot"
    assert sample("websocket_messages_sent_total", type="snapshot") == snapshots_before + 1

    await comm.disconnect()
    assert sample("websocket_connections") == open_before


async def test_it_counts_a_refused_connection_without_holding_it_open() -> None:
    open_before = sample("websocket_connections")
    refused_before = sample("websocket_connects_total", result="refused")
    client = Client_(communicator([]))
    connected, _ = await client.communicator.connect()
    assert connected  # accepted, then closed with 4401 so the browser sees the code
    assert await client.closed_with() == 4401
    assert sample("websocket_connects_total", result="refused") == refused_before + 1
    assert sample("websocket_connections") == open_before
