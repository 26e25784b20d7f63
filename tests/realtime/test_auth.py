"""Who may open ws/metrics/: session users and API-token holders; everyone else gets close code 4401."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.models import ApiToken
from realtime.auth import PROTOCOL
from realtime.consumers import CloseCode
from tests.realtime.conftest import Client_, communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_layer", "sources")]


async def open_client(headers: list[tuple[bytes, bytes]], **kwargs: Any) -> tuple[Client_, str | None]:
    comm = communicator(headers, **kwargs)
    connected, subprotocol = await comm.connect()
    assert connected
    return Client_(comm), subprotocol


async def assert_works(client: Client_) -> None:
    reply = await client.request({"type": "get", "source": "us-east", "id": 1})
    assert reply["type"] == "snapshot"
    assert reply["id"] == 1
    await client.communicator.disconnect()


async def test_it_closes_an_anonymous_connection_with_4401() -> None:
    client, _ = await open_client([])
    assert await client.closed_with() == CloseCode.UNAUTHENTICATED == 4401


async def test_it_ignores_messages_from_a_refused_connection() -> None:
    client, _ = await open_client([])
    await client.send({"type": "get"})
    assert await client.closed_with() == 4401


async def test_it_accepts_a_session_user(session_cookie: tuple[bytes, bytes]) -> None:
    client, subprotocol = await open_client([session_cookie])
    assert subprotocol is None
    await assert_works(client)


async def test_it_refuses_a_forged_session_cookie() -> None:
    client, _ = await open_client([(b"cookie", b"sessionid=0123456789abcdefghijklmnopqrstuv")])
    assert await client.closed_with() == 4401


async def test_it_accepts_a_bearer_token_header(raw_token: str) -> None:
    client, _ = await open_client([(b"authorization", f"Bearer {raw_token}".encode())])
    await assert_works(client)


async def test_it_accepts_a_token_offered_as_subprotocol_and_never_echoes_it(raw_token: str) -> None:
    client, subprotocol = await open_client([], subprotocols=[PROTOCOL, f"bearer.{raw_token}"])
    assert subprotocol == PROTOCOL
    await assert_works(client)


async def test_it_accepts_a_token_in_the_query_string(raw_token: str) -> None:
    client, _ = await open_client([], path=f"/ws/metrics/?token={raw_token}")
    await assert_works(client)


async def test_it_ignores_a_query_string_token_when_that_is_turned_off(raw_token: str, settings: Any) -> None:
    settings.REALTIME_QUERY_TOKEN_AUTH = False
    client, _ = await open_client([], path=f"/ws/metrics/?token={raw_token}")
    assert await client.closed_with() == 4401


@pytest.mark.parametrize(
    "header",
    [b"Bearer dit_not-a-real-token", b"Bearer ", b"Basic b3BzOnBhc3N3b3Jk", b"Bearer " + b"dit_" + b"x" * 300],
)
async def test_it_refuses_a_bad_authorization_header(header: bytes) -> None:
    client, _ = await open_client([(b"authorization", header)])
    assert await client.closed_with() == 4401


async def test_it_refuses_an_expired_token(user: Any) -> None:
    _, raw = await sync_to_async(ApiToken.issue)(user, "old", expires_at=timezone.now() - timedelta(minutes=1))
    client, _ = await open_client([(b"authorization", f"Bearer {raw}".encode())])
    assert await client.closed_with() == 4401


async def test_it_refuses_the_token_of_a_deactivated_user(user: Any, raw_token: str) -> None:
    user.is_active = False
    await sync_to_async(user.save)()
    client, _ = await open_client([(b"authorization", f"Bearer {raw_token}".encode())])
    assert await client.closed_with() == 4401


async def test_it_refuses_a_foreign_origin_before_the_handshake(session_cookie: tuple[bytes, bytes]) -> None:
    from channels.testing import WebsocketCommunicator

    from devops_insights.asgi import application

    comm = WebsocketCommunicator(
        application, "/ws/metrics/", headers=[(b"origin", b"https://evil.example"), session_cookie]
    )
    connected, _ = await comm.connect()
    assert not connected


async def test_it_lets_a_client_without_origin_authenticate_by_token(raw_token: str) -> None:
    from channels.testing import WebsocketCommunicator

    from devops_insights.asgi import application

    comm = WebsocketCommunicator(
        application, "/ws/metrics/", headers=[(b"authorization", f"Bearer {raw_token}".encode())]
    )
    connected, _ = await comm.connect()
    assert connected
    await assert_works(Client_(comm))


async def test_it_closes_a_live_connection_when_its_token_is_revoked(raw_token: str, settings: Any) -> None:
    settings.REALTIME_REAUTH_INTERVAL = 0.2
    client, _ = await open_client([(b"authorization", f"Bearer {raw_token}".encode())])
    assert await client.nothing(0.5)
    await sync_to_async(ApiToken.objects.all().delete)()
    assert await client.closed_with(timeout=3) == 4401


async def test_it_closes_a_live_connection_when_the_session_logs_out(
    session_cookie: tuple[bytes, bytes], settings: Any
) -> None:
    from django.contrib.sessions.models import Session

    settings.REALTIME_REAUTH_INTERVAL = 0.2
    client, _ = await open_client([session_cookie])
    assert await client.nothing(0.5)
    await sync_to_async(Session.objects.all().delete)()
    assert await client.closed_with(timeout=3) == 4401


async def test_it_keeps_a_connection_whose_credentials_stay_valid(raw_token: str, settings: Any) -> None:
    settings.REALTIME_REAUTH_INTERVAL = 0.1
    client, _ = await open_client([(b"authorization", f"Bearer {raw_token}".encode())])
    await asyncio.sleep(0.5)
    await assert_works(client)
