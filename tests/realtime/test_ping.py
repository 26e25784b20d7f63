"""The application-level heartbeat: ``ping`` is answered at once with ``pong`` (docs/websocket-protocol.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from realtime.protocol import ErrorCode, Ping, ProtocolError, parse

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_layer")]


@pytest.fixture
async def client(connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], sources: list[Any]) -> Any:
    return await connect([session_cookie])


async def test_it_answers_a_ping_with_a_pong_carrying_its_id(client: Any) -> None:
    assert await client.request({"type": "ping", "id": "ping-1"}) == {"type": "pong", "id": "ping-1"}
    assert await client.request({"type": "ping", "id": 7}) == {"type": "pong", "id": 7}
    assert await client.request({"type": "ping"}) == {"type": "pong"}


async def test_it_answers_a_ping_between_subscription_and_updates(client: Any) -> None:
    reply = await client.request({"type": "subscribe", "sources": "all", "id": "s"})
    assert reply["type"] == "snapshot"
    assert (await client.request({"type": "ping", "id": "p"}))["type"] == "pong"
    assert await client.nothing()  # exactly one reply per ping


def test_it_parses_a_ping_and_refuses_a_bad_id() -> None:
    assert parse({"type": "ping", "id": "x"}, 50) == Ping(id="x")
    with pytest.raises(ProtocolError) as caught:
        parse({"type": "ping", "id": ["x"]}, 50)
    assert caught.value.code == ErrorCode.BAD_MESSAGE


def test_it_names_ping_among_the_known_types() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse({"type": "pingg"}, 50)
    assert caught.value.code == ErrorCode.UNKNOWN_TYPE
    assert "ping" in caught.value.message
