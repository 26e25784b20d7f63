"""Issue 14 on ``ws/metrics/`` through the real ASGI stack (Channels' WebsocketCommunicator).

Nested messages get a ``message_too_deep`` error, not ``internal_error`` and a traceback (finding 2);
a foreign ``Origin`` is refused whatever part of it differs (finding 5); connections per user and
per token are capped, across processes with Redis (finding 6). The wire-level close codes under a
real daphne are in test_hardening_daphne.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from accounts.models import ApiToken

# Imported at collection: building the application configures logging, which would detach pytest's
# log capture (the "no traceback" assertions below) if it first happened inside a test.
from devops_insights.asgi import application
from realtime import connection_caps
from realtime.consumers import CloseCode
from tests.realtime.conftest import Client_

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_layer", "sources")]


def nested(depth: int) -> str:
    return '{"type": "get", "id": 7, "source": ' + "[" * depth + "]" * depth + "}"


@pytest.fixture
async def client(connect: Callable[..., Any], session_cookie: tuple[bytes, bytes]) -> Client_:
    return await connect([session_cookie])


@pytest.mark.parametrize("depth", [200, 30_000])  # 30,000 levels: a 60 KB message, under the size limit
async def test_it_answers_a_nested_message_with_a_clear_error_and_no_traceback(
    client: Client_, depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        reply = await client.request(nested(depth))
    assert (reply["type"], reply["code"]) == ("error", "message_too_deep")
    assert reply["message"] == "the message nests deeper than 64 levels (JSON_MAX_DEPTH)"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    follow = await client.request({"type": "get", "source": "us-east", "id": "alive"})
    assert (follow["type"], follow["id"]) == ("snapshot", "alive")


async def test_it_still_answers_a_message_nested_within_the_budget(client: Client_, settings: Any) -> None:
    settings.JSON_MAX_DEPTH = 8
    reply = await client.request(nested(3))  # depth 4 with the message itself: parsed, then refused by shape
    assert (reply["type"], reply["code"]) == ("error", "bad_message")
    reply = await client.request(nested(8))
    assert reply["code"] == "message_too_deep"


# --- Origin -------------------------------------------------------------------------------------


async def handshake(headers: list[tuple[bytes, bytes]]) -> tuple[bool, Any]:
    comm = WebsocketCommunicator(application, "/ws/metrics/", headers=headers)
    connected, detail = await comm.connect()
    if connected:
        await comm.disconnect()
    return connected, detail


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:8312",  # another app on the same host name (the probe's)
        b"http://localhost:1",
        b"https://127.0.0.1:8000",  # the right host and port, the wrong scheme
        b"http://127.0.0.1",  # port 80, not 8000
        b"http://127.0.0.1:8000.evil.example",
        b"http://evil.example",
        b"null",  # sandboxed frames and file: pages
    ],
)
async def test_it_refuses_a_foreign_origin_with_a_session_cookie(
    origin: bytes, session_cookie: tuple[bytes, bytes]
) -> None:
    connected, _ = await handshake([(b"origin", origin), (b"host", b"127.0.0.1:8000"), session_cookie])
    assert not connected


async def test_it_accepts_the_sites_own_origin(session_cookie: tuple[bytes, bytes]) -> None:
    connected, _ = await handshake(
        [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), session_cookie]
    )
    assert connected


async def test_it_refuses_an_origin_matching_a_host_outside_allowed_hosts(
    session_cookie: tuple[bytes, bytes], settings: Any
) -> None:
    # DNS rebinding: the attacker's name now points here; Origin and Host agree, but the host is not ours.
    settings.ALLOWED_HOSTS = ["insights.example.com"]
    headers = [(b"origin", b"http://rebind.example:8000"), (b"host", b"rebind.example:8000"), session_cookie]
    assert not (await handshake(headers))[0]


async def test_it_refuses_other_ports_in_production_mode(session_cookie: tuple[bytes, bytes], settings: Any) -> None:
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    own = [(b"host", b"127.0.0.1:8000"), session_cookie]
    assert not (await handshake([(b"origin", b"http://127.0.0.1:9999"), *own]))[0]
    assert (await handshake([(b"origin", b"http://127.0.0.1:8000"), *own]))[0]


async def test_it_takes_https_from_the_trusted_proxy_header(session_cookie: tuple[bytes, bytes], settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["insights.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    host = (b"host", b"insights.example.com")
    tls = (b"x-forwarded-proto", b"https")
    assert (await handshake([(b"origin", b"https://insights.example.com"), host, tls, session_cookie]))[0]
    assert not (await handshake([(b"origin", b"http://insights.example.com"), host, tls, session_cookie]))[0]
    # Without the header the socket is plain http: the https page's origin is not its own.
    assert not (await handshake([(b"origin", b"https://insights.example.com"), host, session_cookie]))[0]


async def test_it_accepts_csrf_trusted_origins_exactly(session_cookie: tuple[bytes, bytes], settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://ops.example.com", "https://*.corp.example"]
    host = (b"host", b"127.0.0.1:8000")
    for origin, expected in [
        (b"https://ops.example.com", True),
        (b"https://ops.example.com:443", True),
        (b"http://ops.example.com", False),
        (b"https://ops.example.com:8443", False),
        (b"https://eu.corp.example", True),
        (b"https://corp.example.evil", False),
    ]:
        connected, _ = await handshake([(b"origin", origin), host, session_cookie])
        assert connected is expected, origin


# --- Connection caps ---------------------------------------------------------------------------


async def open_ws(headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, int | None]:
    """Connect; return the communicator and the close code when the server closed it at once."""
    from tests.realtime.conftest import communicator

    comm = communicator(headers)
    connected, _ = await comm.connect()
    assert connected
    if await comm.receive_nothing(0.2):
        return comm, None
    output = await comm.receive_output(1)
    assert output["type"] == "websocket.close", output
    return comm, int(output["code"])


async def test_it_caps_connections_per_user_in_one_process(session_cookie: tuple[bytes, bytes], settings: Any) -> None:
    settings.REDIS_URL = None
    settings.REALTIME_MAX_CONNECTIONS_PER_USER = 2
    first, code1 = await open_ws([session_cookie])
    second, code2 = await open_ws([session_cookie])
    third, code3 = await open_ws([session_cookie])
    assert (code1, code2, code3) == (None, None, 4409)
    assert CloseCode.TOO_MANY_CONNECTIONS == 4409
    await first.disconnect()
    again, code = await open_ws([session_cookie])  # a closed connection gives its slot back
    assert code is None
    for comm in (second, third, again):
        await comm.disconnect()


async def test_it_caps_connections_per_token_and_per_user_together(user: Any, settings: Any) -> None:
    settings.REDIS_URL = None
    settings.REALTIME_MAX_CONNECTIONS_PER_TOKEN = 1
    settings.REALTIME_MAX_CONNECTIONS_PER_USER = 3
    _, first = await sync_to_async(ApiToken.issue)(user, "first")
    _, second = await sync_to_async(ApiToken.issue)(user, "second")
    opened = []
    codes = []
    for raw in (first, first, second, second):
        comm, code = await open_ws([(b"authorization", f"Bearer {raw}".encode())])
        opened.append(comm)
        codes.append(code)
    assert codes == [None, 4409, None, 4409]
    other_user = await sync_to_async(get_user_model().objects.create_user)("other", "o@example.com", "pw-long-enough")
    _, third = await sync_to_async(ApiToken.issue)(other_user, "third")
    comm, code = await open_ws([(b"authorization", f"Bearer {third}".encode())])
    opened.append(comm)
    assert code is None  # caps are per user and per token, not global
    for comm in opened:
        await comm.disconnect()


async def test_it_counts_connections_of_other_processes_in_redis(
    redis_settings: Any, redis_client: Any, session_cookie: tuple[bytes, bytes], user: Any
) -> None:
    redis_settings.REALTIME_MAX_CONNECTIONS_PER_USER = 2
    redis_settings.REALTIME_CONNECTION_SLOT_TTL = 30.0
    key = connection_caps.Cap("user", str(user.pk), 2).key
    now_ms = int(time.time() * 1000)
    # Another web process holds one live slot; a crashed one left a slot that has expired.
    redis_client.zadd(key, {"other-process": now_ms + 30_000, "crashed-process": now_ms - 1})
    first, code1 = await open_ws([session_cookie])
    second, code2 = await open_ws([session_cookie])
    assert (code1, code2) == (None, 4409)
    members = {m.decode() for m in redis_client.zrange(key, 0, -1)}
    assert "crashed-process" not in members
    assert "other-process" in members
    assert len(members) == 2
    await first.disconnect()
    await second.disconnect()
    assert {m.decode() for m in redis_client.zrange(key, 0, -1)} == {"other-process"}


async def test_it_renews_its_slot_while_connected(
    redis_settings: Any, redis_client: Any, session_cookie: tuple[bytes, bytes], user: Any
) -> None:
    redis_settings.REALTIME_CONNECTION_SLOT_TTL = 3.0
    key = connection_caps.Cap("user", str(user.pk), 1).key
    comm, code = await open_ws([session_cookie])
    assert code is None
    [(_, first_expiry)] = redis_client.zrange(key, 0, -1, withscores=True)
    deadline = time.monotonic() + 5
    renewed = False
    while not renewed and time.monotonic() < deadline:
        [(_, expiry)] = redis_client.zrange(key, 0, -1, withscores=True)
        renewed = expiry > first_expiry
        if not renewed:
            await comm.receive_nothing(0.2)
    assert renewed, "the slot's expiry did not move within two renew periods"
    await comm.disconnect()


class ClientGone(Exception):
    """What a server's ``send`` raises once its client has gone (uvicorn's ``ClientDisconnected``)."""


async def run_until_a_send_fails(headers: list[tuple[bytes, bytes]], *messages: dict[str, Any]) -> list[str]:
    """Run one connection on the ASGI application whose every ``websocket.send`` raises ``ClientGone``.

    The consumer gets no ``websocket.disconnect``: the exception ends it, as under uvicorn when a client
    closes while its request is answered. Returns the types of the messages sent before that.
    """
    import asyncio

    from tests.realtime.conftest import HOST, ORIGIN, PATH

    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for message in ({"type": "websocket.connect"}, *messages):
        incoming.put_nowait(message)
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise ClientGone()
        sent.append(message["type"])

    scope = {"type": "websocket", "path": PATH, "query_string": b"", "headers": [ORIGIN, HOST, *headers]}
    scope |= {"subprotocols": [], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    with pytest.raises(ClientGone):
        await asyncio.wait_for(application(scope, incoming.get, send), 10)
    return sent


def open_connections() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("devops_insights_websocket_connections") or 0.0


@pytest.mark.parametrize("request_text", ['{"type": "get", "source": "us-east", "id": 1}', '{"type": "ping"}'])
async def test_it_gives_back_its_slot_when_a_reply_to_a_client_that_has_gone_fails(
    session_cookie: tuple[bytes, bytes], settings: Any, request_text: str
) -> None:
    settings.REDIS_URL = None
    settings.REALTIME_MAX_CONNECTIONS_PER_USER = 1
    before = open_connections()
    sent = await run_until_a_send_fails([session_cookie], {"type": "websocket.receive", "text": request_text})
    assert sent == ["websocket.accept"]
    assert open_connections() == before
    # The user's one slot came back: a new connection is accepted, not refused with 4409.
    again, code = await open_ws([session_cookie])
    assert code is None
    await again.disconnect()


async def test_it_gives_back_its_redis_slot_when_a_reply_fails(
    redis_settings: Any, redis_client: Any, session_cookie: tuple[bytes, bytes], user: Any
) -> None:
    redis_settings.REALTIME_MAX_CONNECTIONS_PER_USER = 1
    key = connection_caps.Cap("user", str(user.pk), 1).key
    request = {"type": "websocket.receive", "text": '{"type": "subscribe", "sources": "all", "id": 1}'}
    assert await run_until_a_send_fails([session_cookie], request) == ["websocket.accept"]
    assert redis_client.zcard(key) == 0  # every web process sees the slot free, not only this one


async def test_it_falls_back_to_this_process_when_redis_fails(
    session_cookie: tuple[bytes, bytes], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.REALTIME_MAX_CONNECTIONS_PER_USER = 1
    first, code1 = await open_ws([session_cookie])
    second, code2 = await open_ws([session_cookie])
    assert (code1, code2) == (None, 4409)
    assert "connection caps fall back to this process" in caplog.text
    await first.disconnect()
    await second.disconnect()


def test_it_documents_every_close_code() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "websocket-protocol.md").read_text()
    for code in (1009, *(int(c) for c in CloseCode)):
        assert f"| {code} |" in doc, code
    assert json.dumps("message_too_deep") in json.dumps(doc) or "`message_too_deep`" in doc


async def test_it_disconnects_without_waiting_for_the_database_thread(client: Client_) -> None:
    # Many clients dropping at once must not queue one hop each on the one thread-sensitive worker
    # thread that reconnecting handshakes need (realtime/consumers.py, websocket_disconnect).
    import asyncio
    import threading

    from channels.db import database_sync_to_async

    assert (await client.request({"type": "subscribe", "sources": "all"}))["type"] == "snapshot"
    held = threading.Event()
    blocker = asyncio.ensure_future(database_sync_to_async(held.wait)())
    try:
        await client.communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(asyncio.shield(client.communicator.future), 2)
        assert client.communicator.future.exception() is None
        assert not blocker.done()  # the database thread was held the whole time
    finally:
        held.set()
        await blocker


async def test_it_stops_buffering_when_one_buffered_event_fails(caplog: pytest.LogCaptureFixture) -> None:
    # Events that arrive while a subscribe reads its snapshot wait in the buffer. One that fails on its
    # way out (its source's team could not be read) must not leave the connection buffering: every
    # later event would be queued there, unsent, for as long as the connection lived.
    from realtime.consumers import MetricsConsumer

    consumer = MetricsConsumer()
    delivered: list[str] = []

    def handle_event(event: dict[str, Any], text: str) -> bool:
        if event["source"] == "broken":
            raise RuntimeError("the source's team could not be read")
        delivered.append(event["source"])
        return True

    consumer.handle_event = handle_event  # type: ignore[method-assign]
    consumer.closing = False
    consumer.buffering = True
    consumer.buffered = [
        ({"type": "metric.update", "source": "broken"}, "{}"),
        ({"type": "metric.update", "source": "us-east"}, "{}"),
    ]
    with caplog.at_level(logging.ERROR, logger="realtime.consumers"):
        await consumer.flush_buffered()
    assert delivered == ["us-east"]  # the failed event did not take the rest of the buffer with it
    assert "delivering metric.update failed" in caplog.text
    assert consumer.buffering is False
    assert consumer.receive_event({"type": "metric.update", "source": "eu-west"}, "{}") is True
    assert delivered == ["us-east", "eu-west"]  # sent at once, not buffered
