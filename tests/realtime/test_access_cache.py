"""realtime/access.py: a principal's access is read once per process and read again after any change.

With a shared cache (Redis) a handshake of a known, unchanged token reads no database row; a revoked
token, a deactivated user, a removed membership or a new source moves the shared generation, so the
very next handshake or request sees it. Without a shared cache, or while Redis is down, nothing is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.utils import timezone

from accounts.models import ApiToken, Membership
from realtime import access
from realtime.access import ACCESS, GENERATION_KEY
from realtime.consumers import CloseCode
from tests.factories import add_member, make_source, make_team
from tests.realtime.conftest import Client_, communicator
from tests.services import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sources")]


@pytest.fixture(autouse=True)
def _empty_access_cache() -> None:
    ACCESS.forget()
    ACCESS.loads = 0


def bearer(raw: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {raw}".encode())]


async def open_client(headers: list[tuple[bytes, bytes]]) -> Client_:
    comm = communicator(headers)
    connected, _ = await comm.connect()
    assert connected
    return Client_(comm)


async def works(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a new connection with ``headers`` reads us-east."""
    client = await open_client(headers)
    reply = await client.request({"type": "get", "source": "us-east", "id": 1})
    await client.communicator.disconnect()
    return bool(reply["type"] == "snapshot")


async def refused(headers: list[tuple[bytes, bytes]]) -> bool:
    client = await open_client(headers)
    return await client.closed_with() == CloseCode.UNAUTHENTICATED


async def test_it_reads_a_tokens_access_once_while_nothing_changes(redis_settings: Any, raw_token: str) -> None:
    for _ in range(3):
        assert await works(bearer(raw_token))
    assert ACCESS.loads == 1


async def test_it_refuses_a_revoked_token_at_the_next_handshake(redis_settings: Any, raw_token: str) -> None:
    assert await works(bearer(raw_token))
    await sync_to_async(ApiToken.objects.all().delete)()
    assert await refused(bearer(raw_token))


async def test_it_refuses_the_token_of_a_user_deactivated_since(redis_settings: Any, user: Any, raw_token: str) -> None:
    assert await works(bearer(raw_token))
    user.is_active = False
    await sync_to_async(user.save)()
    assert await refused(bearer(raw_token))


async def test_it_closes_a_connection_whose_token_was_revoked_at_its_next_request(
    redis_settings: Any, raw_token: str
) -> None:
    client = await open_client(bearer(raw_token))
    assert (await client.request({"type": "get", "id": 1}))["type"] == "snapshot"
    await sync_to_async(ApiToken.objects.all().delete)()
    await client.send({"type": "get", "id": 2})
    assert await client.closed_with() == CloseCode.UNAUTHENTICATED


async def test_it_stops_a_removed_membership_at_the_next_request(
    redis_settings: Any, user: Any, raw_token: str
) -> None:
    client = await open_client(bearer(raw_token))
    assert (await client.request({"type": "get", "source": "us-east", "id": 1}))["type"] == "snapshot"
    await sync_to_async(Membership.objects.filter(user=user).delete)()
    refused_get = await client.request({"type": "get", "source": "us-east", "id": 2})
    assert refused_get["code"] == "unknown_source"
    everything = await client.request({"type": "get", "id": 3})
    assert everything["snapshots"] == everything["pending"] == everything["unchanged"] == []


async def test_it_grants_a_new_membership_and_a_new_source_at_the_next_request(
    redis_settings: Any, session_cookie: tuple[bytes, bytes], user: Any
) -> None:
    client = await open_client([session_cookie])
    before = await client.request({"type": "get", "id": 1})
    assert "red-secret" not in before["pending"]
    red = await sync_to_async(make_team)("red")
    await sync_to_async(make_source)("red-secret", team=red)
    assert (await client.request({"type": "get", "source": "red-secret", "id": 2}))["code"] == "unknown_source"
    await sync_to_async(add_member)(user, red)
    after = await client.request({"type": "get", "source": "red-secret", "id": 3})
    assert after["type"] == "snapshot"
    assert after["pending"] == ["red-secret"]


async def test_it_does_not_move_the_generation_for_a_login(redis_settings: Any, user: Any, raw_token: str) -> None:
    assert await works(bearer(raw_token))
    generation = await sync_to_async(cache.get)(GENERATION_KEY)
    await sync_to_async(user.save)(update_fields=["last_login"])
    assert await sync_to_async(cache.get)(GENERATION_KEY) == generation
    assert await works(bearer(raw_token))
    assert ACCESS.loads == 1


async def test_it_moves_the_generation_when_provisioning_creates_sources(
    redis_settings: Any, allow_loopback: Any
) -> None:
    from provisioning.apply import apply_files

    generation = await sync_to_async(access._read_generation)()
    files = {"s.yaml": "sources:\n  - slug: new-one\n    name: New\n    url: http://127.0.0.1:9/new\n"}
    await sync_to_async(apply_files)(files)  # bulk_create: no save signal
    assert await sync_to_async(cache.get)(GENERATION_KEY) != generation


async def test_it_keeps_nothing_without_a_shared_cache(memory_layer: Any, raw_token: str) -> None:
    for _ in range(2):
        assert await works(bearer(raw_token))
    assert ACCESS.loads == 4  # each connection's handshake and its request read the database


async def test_it_keeps_nothing_while_the_cache_is_unreachable(redis_settings: Any, raw_token: str) -> None:
    redis_settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "IGNORE_EXCEPTIONS": True},
        }
    }
    for _ in range(2):
        assert await works(bearer(raw_token))
    assert ACCESS.loads == 4  # each connection's handshake and its request read the database
    await sync_to_async(ApiToken.objects.all().delete)()
    assert await refused(bearer(raw_token))


async def test_it_reads_a_reconnect_storm_of_one_token_once(
    redis_settings: Any, raw_token: str, connect: Callable[..., Any]
) -> None:
    clients = await asyncio.gather(*(connect(bearer(raw_token)) for _ in range(10)))
    assert len(clients) == 10
    assert ACCESS.loads == 1


async def test_it_shares_one_generation_read_among_lookups_that_ask_at_once(redis_settings: Any) -> None:
    reads = ACCESS.generations.reads
    values = await asyncio.gather(*(ACCESS.generations.read(None) for _ in range(20)))
    assert len(set(values)) == 1
    assert values[0] is not None
    # The first asker's read, then one more for everyone who asked while it ran.
    assert ACCESS.generations.reads - reads <= 2
    await sync_to_async(access.bump)()
    assert await ACCESS.generations.read(None) != values[0]  # a read that began after the bump sees it


# --- Browser sessions: the session row and its user are read once per session and process ------------


def session_key_of(cookie: tuple[bytes, bytes]) -> str:
    return cookie[1].decode().partition("=")[2]


async def test_it_reads_a_sessions_access_once_while_nothing_changes(
    redis_settings: Any, session_cookie: tuple[bytes, bytes]
) -> None:
    for _ in range(3):
        assert await works([session_cookie])
    assert ACCESS.loads == 1


async def test_it_refuses_a_logged_out_session_at_the_next_handshake(
    redis_settings: Any, session_cookie: tuple[bytes, bytes]
) -> None:
    assert await works([session_cookie])
    await sync_to_async(SessionStore(session_key_of(session_cookie)).flush)()  # what logout() does
    assert await refused([session_cookie])


async def test_it_refuses_a_session_whose_user_changed_password_since(
    redis_settings: Any, session_cookie: tuple[bytes, bytes], user: Any
) -> None:
    assert await works([session_cookie])
    user.set_password("another-long-password")
    await sync_to_async(user.save)()
    assert await refused([session_cookie])


async def test_it_refuses_a_session_of_a_user_deactivated_since(
    redis_settings: Any, session_cookie: tuple[bytes, bytes], user: Any
) -> None:
    assert await works([session_cookie])
    user.is_active = False
    await sync_to_async(user.save)()
    assert await refused([session_cookie])


async def test_it_refuses_a_kept_session_once_it_has_expired(
    redis_settings: Any, session_cookie: tuple[bytes, bytes]
) -> None:
    assert await works([session_cookie])
    key = ("session", session_key_of(session_cookie))
    kept = ACCESS.entries[key]
    ACCESS.entries[key] = dataclasses.replace(kept, expires_at=timezone.now() - timedelta(seconds=1))
    # Expired in the table too, without a signal (as time passing does): the expiry kept is what refuses it.
    past = timezone.now() - timedelta(seconds=1)
    await sync_to_async(Session.objects.filter(session_key=key[1]).update)(expire_date=past)
    assert await refused([session_cookie])


async def test_it_closes_a_live_session_connection_at_logout(
    redis_settings: Any, session_cookie: tuple[bytes, bytes]
) -> None:
    redis_settings.REALTIME_REAUTH_INTERVAL = 0.2
    client = await open_client([session_cookie])
    assert await client.nothing(0.5)
    await sync_to_async(SessionStore(session_key_of(session_cookie)).flush)()
    assert await client.closed_with() == CloseCode.UNAUTHENTICATED


async def test_it_does_not_move_the_generation_when_an_anonymous_session_is_deleted(redis_settings: Any) -> None:
    anonymous = SessionStore()
    anonymous["seen"] = True
    await sync_to_async(anonymous.create)()
    generation = await sync_to_async(access._read_generation)()
    await sync_to_async(anonymous.delete)()  # as a login does to the session it replaces
    assert await sync_to_async(access._read_generation)() == generation
