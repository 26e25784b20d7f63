"""Fixtures for the realtime tests: users, sessions, tokens, sources, and a connected client.

Every WebSocket test drives the real ASGI application (``devops_insights.asgi.application``):
origin validation, session and token middleware, URL routing, consumer.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import LazySettings
from django.test import Client

from metrics.stores import get_store
from metrics.stores.base import MetricStore, RecordResult
from pollers.models import Source
from tests.factories import add_member, make_source, make_token, make_user

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
# The handshake's own host: the origin above is allowed because it is this site's (realtime/origin.py).
HOST = (b"host", b"127.0.0.1:8000")
PATH = "/ws/metrics/"
SLUGS = ("us-east", "eu-west", "ap-southeast")


def status_payload(cpu_load: float = 41.7, online: int = 57, status: str = "ok") -> dict[str, Any]:
    """A payload in the upstream status shape (docs/upstream-payload.md)."""
    return {
        "status": status,
        "server_issue": None,
        "version": "v2.4.1",
        "results": {
            "services": {"redis": True, "database": status == "ok"},
            "stats": {
                "online": online,
                "servers_count": 3,
                "session": 412,
                "server": {"cpus": 4, "cpu_load": cpu_load, "active_connections": 9876, "wait_time": 63},
            },
            "performance": {"response_times": {"p50": 120, "p95": 410, "p99": 880}, "error_rate": 0.8},
        },
    }


@pytest.fixture
def memory_layer(settings: LazySettings) -> LazySettings:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return settings


@pytest.fixture
def pubsub_settings(redis_settings: LazySettings, redis_url: str) -> LazySettings:
    # Pub/sub channel names are server-wide (not per Redis database): a prefix of our own keeps
    # other test runs on the same server from being heard.
    redis_settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": f"test{os.getpid()}"},
        }
    }
    return redis_settings


@pytest.fixture(params=["memory", "redis", "pubsub"])
def any_layer(request: pytest.FixtureRequest) -> str:
    """Run the test on the in-memory layer and on both channels-redis layers, against real Redis."""
    fixture = {"memory": "memory_layer", "redis": "redis_settings", "pubsub": "pubsub_settings"}[request.param]
    request.getfixturevalue(fixture)
    return str(request.param)


@pytest.fixture(autouse=True)
def _realtime_test_settings(settings: LazySettings) -> None:
    settings.REALTIME_REAUTH_INTERVAL = 60.0
    # Tests publish explicitly; test_embedded.py turns the store watcher on where it is the subject.
    settings.REALTIME_STORE_WATCH_INTERVAL = 0.0


@pytest.fixture
def user(db: None) -> Any:
    """A viewer of the default team, which owns the ``sources`` fixture's sources."""
    from accounts.teams import default_team

    made = make_user("ops", email="ops@example.com")
    add_member(made, default_team())
    return made


@pytest.fixture
def session_cookie(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


@pytest.fixture
def raw_token(user: Any) -> str:
    return make_token(user.username)


@pytest.fixture
def sources(db: None) -> list[Source]:
    return [make_source(slug) for slug in SLUGS]


@pytest.fixture
def store(db: None) -> MetricStore:
    return get_store()


@pytest.fixture
def record(store: MetricStore, sources: list[Source]) -> Callable[..., Any]:
    """``await record(slug, payload)``: store a payload as the poller would, from a worker thread."""
    specs = {source.slug: source.spec() for source in sources}

    async def _record(slug: str, payload: dict[str, Any]) -> RecordResult:
        fetched_at = datetime.now(UTC)
        return await sync_to_async(store.record)(specs[slug], copy.deepcopy(payload), fetched_at)

    return _record


class Client_:
    """A connected WebsocketCommunicator with JSON helpers."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 3.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.communicator.receive_from(timeout))
        return message

    async def request(self, message: dict[str, Any] | str, timeout: float = 3.0) -> dict[str, Any]:
        await self.send(message)
        return await self.receive(timeout)

    async def nothing(self, timeout: float = 0.3) -> bool:
        return bool(await self.communicator.receive_nothing(timeout))

    async def closed_with(self, timeout: float = 3.0) -> int:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.close", output
        return int(output.get("code", 1000))


def communicator(
    headers: list[tuple[bytes, bytes]] | None = None, path: str = PATH, subprotocols: list[str] | None = None
) -> WebsocketCommunicator:
    from devops_insights.asgi import application

    return WebsocketCommunicator(application, path, headers=[ORIGIN, HOST, *(headers or [])], subprotocols=subprotocols)


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Any]]:
    """``await connect(headers)``: a connected client; every one is disconnected after the test."""
    opened: list[WebsocketCommunicator] = []

    async def _connect(headers: list[tuple[bytes, bytes]], **kwargs: Any) -> Client_:
        comm = communicator(headers, **kwargs)
        opened.append(comm)
        connected, _ = await comm.connect()
        assert connected
        return Client_(comm)

    yield _connect
    for comm in opened:
        await comm.disconnect()
