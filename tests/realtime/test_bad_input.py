"""Bad client input gets an ``error`` message or a documented close code, and harms nothing else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from realtime.consumers import CloseCode
from realtime.events import publish_update
from tests.realtime.conftest import status_payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_layer", "sources")]


@pytest.fixture
async def client(connect: Callable[..., Any], session_cookie: tuple[bytes, bytes]) -> Any:
    return await connect([session_cookie])


async def assert_still_serves(client: Any) -> None:
    reply = await client.request({"type": "get", "source": "us-east", "id": "alive"})
    assert (reply["type"], reply["id"]) == ("snapshot", "alive")


@pytest.mark.parametrize("text", ["{not json", " ", "[1, 2]", '"subscribe"', "null", "{'type': 'get'}"])
async def test_it_answers_malformed_json_with_an_error(client: Any, text: str) -> None:
    reply = await client.request(text)
    assert reply["type"] == "error"
    assert reply["code"] == "bad_json"
    assert reply["message"]
    assert "retry_after_ms" not in reply
    await assert_still_serves(client)


async def test_it_answers_an_unknown_type_with_an_error(client: Any) -> None:
    reply = await client.request({"type": "shutdown", "id": 9})
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "unknown_type", 9)
    missing = await client.request({"source": "us-east"})
    assert missing["code"] == "bad_message"
    await assert_still_serves(client)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "subscribe", "sources": ["us-east", "nowhere"]},
        {"type": "get", "source": "nowhere"},
        {"type": "history", "source": "nowhere"},
    ],
)
async def test_it_answers_an_unknown_source_with_an_error(client: Any, message: dict[str, Any]) -> None:
    reply = await client.request({**message, "id": "x"})
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "unknown_source", "x")
    assert "nowhere" in reply["message"]
    await assert_still_serves(client)


async def test_it_leaves_subscriptions_unchanged_when_a_subscribe_names_an_unknown_source(
    client: Any, record: Callable[..., Any]
) -> None:
    await client.request({"type": "subscribe", "sources": ["eu-west"]})
    assert (await client.request({"type": "subscribe", "sources": ["us-east", "nowhere"]}))["code"] == "unknown_source"
    east = await record("us-east", status_payload())
    await sync_to_async(publish_update)("us-east", east, datetime.now(UTC))
    assert await client.nothing()


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"type": "subscribe"}, '"sources" is required'),
        ({"type": "subscribe", "sources": []}, "non-empty list"),
        ({"type": "subscribe", "sources": "us-east"}, "non-empty list"),
        ({"type": "subscribe", "sources": [1]}, "source slug"),
        ({"type": "subscribe", "sources": ["../etc"]}, "source slug"),
        ({"type": "subscribe", "sources": ["us-east"], "known": ["abc"]}, '"known"'),
        ({"type": "subscribe", "sources": ["us-east"], "known": {"us-east": "not-a-hash"}}, '"known.us-east"'),
        (
            {"type": "subscribe", "sources": ["us-east"], "known": {"us-east": {"hash": "ab" * 20, "sequence": "1"}}},
            "known",
        ),
        ({"type": "get", "source": 5}, '"source"'),
        ({"type": "history"}, '"source"'),
        ({"type": "history", "source": "us-east", "limit": 0}, '"limit"'),
        ({"type": "history", "source": "us-east", "limit": 100000}, '"limit"'),
        ({"type": "history", "source": "us-east", "limit": True}, '"limit"'),
        ({"type": "history", "source": "us-east", "from": "yesterday"}, '"from"'),
        ({"type": "history", "source": "us-east", "to": 12}, '"to"'),
        (
            {"type": "history", "source": "us-east", "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "after",
        ),
        ({"type": "history", "source": "us-east", "include_payload": "yes"}, "include_payload"),
        ({"type": "history", "source": "us-east", "cursor": 7}, '"cursor"'),
        ({"type": "get", "id": {"nested": 1}}, '"id"'),
        ({"type": "get", "id": "x" * 65}, '"id"'),
        ({"type": 3}, '"type"'),
    ],
)
async def test_it_names_the_bad_field(client: Any, message: dict[str, Any], words: str) -> None:
    reply = await client.request(message)
    assert (reply["type"], reply["code"]) == ("error", "bad_message"), reply
    assert words in reply["message"]
    await assert_still_serves(client)


async def test_it_answers_a_bad_history_cursor_with_an_error(client: Any, record: Callable[..., Any]) -> None:
    await record("us-east", status_payload())
    reply = await client.request({"type": "history", "source": "us-east", "cursor": "%%%not-a-cursor%%%", "id": 1})
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "bad_message", 1)
    await assert_still_serves(client)


async def test_it_answers_a_binary_frame_with_an_error(client: Any) -> None:
    await client.communicator.send_to(bytes_data=b'{"type": "get"}')
    reply = await client.receive()
    assert (reply["type"], reply["code"]) == ("error", "binary_not_supported")
    await assert_still_serves(client)


async def test_it_closes_with_4009_after_a_message_over_64_kib(client: Any) -> None:
    # The application's own check (no daphne here): 4009, since daphne refuses 1009 from an
    # application; under daphne the transport closes with 1009 first (tests/realtime/test_hardening_daphne.py).
    big = json.dumps({"type": "get", "padding": "x" * (64 * 1024)})
    await client.send(big)
    reply = await client.receive()
    assert (reply["type"], reply["code"]) == ("error", "message_too_large")
    assert await client.closed_with() == CloseCode.MESSAGE_TOO_BIG == 4009


async def test_it_counts_bytes_not_characters_against_the_size_limit(client: Any) -> None:
    # 30,000 three-byte characters: under the limit in characters, over it in bytes.
    await client.send(json.dumps({"type": "get", "padding": "€" * 30000}, ensure_ascii=False))
    assert (await client.receive())["code"] == "message_too_large"
    assert await client.closed_with() == 4009


async def test_it_accepts_a_message_just_under_the_limit(client: Any) -> None:
    message = {"type": "get", "id": "edge", "padding": ""}
    message["padding"] = "x" * (64 * 1024 - len(json.dumps(message)))
    text = json.dumps(message)
    assert len(text.encode()) == 64 * 1024
    reply = await client.request(text)
    assert (reply["type"], reply["id"]) == ("snapshot", "edge")


async def test_it_rate_limits_a_chatty_connection_with_one_error(
    connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], settings: Any
) -> None:
    settings.REALTIME_MAX_MESSAGES_PER_SECOND = 5
    chatty = await connect([session_cookie])
    for i in range(8):
        await chatty.send({"type": "get", "source": "us-east", "id": i})
    replies = [await chatty.receive() for _ in range(6)]
    assert [r["id"] for r in replies if r["type"] == "snapshot"] == [0, 1, 2, 3, 4]
    errors = [r for r in replies if r["type"] == "error"]
    assert len(errors) == 1, "one error per burst, not one per dropped message"
    assert errors[0]["code"] == "rate_limited"
    assert 0 < errors[0]["retry_after_ms"] <= 1000
    assert await chatty.nothing(0.2)
    # Once the bucket refills the connection is served again.
    await asyncio.sleep(errors[0]["retry_after_ms"] / 1000)
    await assert_still_serves(chatty)


async def test_it_closes_with_4429_a_connection_that_keeps_flooding(
    connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], settings: Any
) -> None:
    settings.REALTIME_MAX_MESSAGES_PER_SECOND = 5
    flooder = await connect([session_cookie])
    bystander = await connect([session_cookie])
    for i in range(40):
        await flooder.send({"type": "get", "source": "us-east", "id": i})
    outputs = []
    while True:
        output = await flooder.communicator.receive_output(3)
        outputs.append(output)
        if output["type"] == "websocket.close":
            break
    assert outputs[-1]["code"] == CloseCode.RATE_LIMITED == 4429
    # The other connection on the same server is untouched.
    await assert_still_serves(bystander)


async def test_it_answers_unavailable_with_retry_after_while_the_store_is_down(client: Any) -> None:
    from django.db import connection

    def rename(old: str, new: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")

    # A real failure of the real store (its table gone), not a stand-in.
    await sync_to_async(rename)("metrics_latest", "metrics_latest_away")
    try:
        reply = await client.request({"type": "get", "source": "us-east", "id": "down"})
    finally:
        await sync_to_async(rename)("metrics_latest_away", "metrics_latest")
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "unavailable", "down")
    assert reply["retry_after_ms"] == 2000
    await assert_still_serves(client)
