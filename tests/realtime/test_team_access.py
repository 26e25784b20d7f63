"""The WebSocket through the one access rule: every action for a viewer, a stranger, a superuser and a token.

The default team owns the ``sources`` fixture's us-east, eu-west and ap-southeast (the ``user`` fixture is
its viewer); the team "red" owns red-secret. Anonymous connections are closed with 4401 before any action
(tests/realtime/test_auth.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.models import ApiToken, Membership, Role
from realtime.events import publish_alert, publish_source_status, publish_update
from tests.factories import add_member, make_source, make_team, make_user
from tests.realtime.conftest import status_payload

pytestmark = pytest.mark.django_db(transaction=True)

MINE = ["ap-southeast", "eu-west", "us-east"]


@pytest.fixture
def red_source(sources: list[Any]) -> Any:
    """Red's source, next to the default team's (the ``sources`` fixture)."""
    return make_source("red-secret", team=make_team("red"))


def named(reply: dict[str, Any]) -> list[str]:
    """Every source a snapshot reply covers: with data, unchanged or still waiting for its first poll."""
    return sorted([s["source"] for s in reply["snapshots"]] + reply["unchanged"] + reply["pending"])


def cookie_for(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def publish_all(store: Any, slugs: list[str], cpu_load: float = 41.7) -> None:
    """Store a change of each source, as the poller does, and announce it."""
    from pollers.models import Source

    for slug in slugs:
        source = await sync_to_async(Source.objects.get)(slug=slug)
        result = await sync_to_async(store.record)(source.spec(), status_payload(cpu_load), datetime.now(UTC))
        await sync_to_async(publish_update)(slug, result, datetime.now(UTC))


async def test_it_gives_all_as_the_sources_a_viewer_may_read(
    memory_layer: Any, connect: Callable[..., Any], session_cookie: tuple[bytes, bytes], red_source: Any, store: Any
) -> None:
    client = await connect([session_cookie])
    reply = await client.request({"type": "subscribe", "sources": "all"})
    assert named(reply) == MINE
    everything = await client.request({"type": "get"})
    assert named(everything) == MINE
    await publish_all(store, ["red-secret", "us-east"])
    update = await client.receive()
    assert (update["type"], update["source"]) == ("update", "us-east")
    await sync_to_async(publish_source_status)("red-secret", "failing", {})
    await sync_to_async(publish_alert)("red-secret", {"kind": "fired"})
    assert await client.nothing()


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "subscribe", "sources": ["red-secret"], "id": 1},
        {"type": "get", "source": "red-secret", "id": 1},
        {"type": "history", "source": "red-secret", "id": 1},
    ],
)
async def test_it_answers_another_teams_source_exactly_like_a_missing_one(
    memory_layer: Any,
    connect: Callable[..., Any],
    session_cookie: tuple[bytes, bytes],
    red_source: Any,
    request_: dict[str, Any],
) -> None:
    client = await connect([session_cookie])
    foreign = await client.request(request_)
    missing = await client.request({**request_, **({"sources": ["nowhere"]} if "sources" in request_ else {})})
    if "source" in request_:
        missing = await client.request({**request_, "source": "nowhere"})
    assert foreign["code"] == missing["code"] == "unknown_source"
    assert foreign["message"].replace("red-secret", "X") == missing["message"].replace("nowhere", "X")


async def test_it_gives_a_superuser_every_team(
    memory_layer: Any, connect: Callable[..., Any], red_source: Any, store: Any
) -> None:
    root = await sync_to_async(make_user)("root", superuser=True, password=None)
    client = await connect([await sync_to_async(cookie_for)(root)])
    reply = await client.request({"type": "subscribe", "sources": "all"})
    assert named(reply) == sorted([*MINE, "red-secret"])
    await publish_all(store, ["red-secret"])
    assert (await client.receive())["source"] == "red-secret"


async def test_it_limits_a_token_to_its_own_team(
    memory_layer: Any, connect: Callable[..., Any], user: Any, red_source: Any
) -> None:
    # The user reads both teams; the token acts in red only.
    red = red_source.team
    await sync_to_async(add_member)(user, red, Role.VIEWER)
    _token, raw = await sync_to_async(ApiToken.issue)(user, "red-only")
    await sync_to_async(ApiToken.objects.filter(name="red-only").update)(team=red)
    client = await connect([(b"authorization", f"Bearer {raw}".encode())])
    reply = await client.request({"type": "subscribe", "sources": "all"})
    assert named(reply) == ["red-secret"]
    refused = await client.request({"type": "get", "source": "us-east", "id": 2})
    assert refused["code"] == "unknown_source"


async def test_it_stops_a_removed_members_events_at_the_next_check(
    memory_layer: Any,
    connect: Callable[..., Any],
    session_cookie: tuple[bytes, bytes],
    user: Any,
    store: Any,
    settings: Any,
    sources: list[Any],
) -> None:
    """Revocation: a removed membership stops the stream within REALTIME_REAUTH_INTERVAL (documented)."""
    settings.REALTIME_REAUTH_INTERVAL = 0.2
    client = await connect([session_cookie])
    await client.request({"type": "subscribe", "sources": ["us-east"]})
    await sync_to_async(Membership.objects.filter(user=user).delete)()
    # Until the maintenance task has read the connection's teams again: bounded by time, not by a number of
    # publications (a fast machine published fifty before the first 0.2 s check was due).
    deadline = asyncio.get_running_loop().time() + 50 * settings.REALTIME_REAUTH_INTERVAL
    stopped, step = False, 0
    while not stopped and asyncio.get_running_loop().time() < deadline:
        step += 1
        await publish_all(store, ["us-east"], cpu_load=float(step))
        if await client.nothing(0.2):
            stopped = True
        else:
            assert (await client.receive())["source"] == "us-east"
    assert stopped
    refused = await client.request({"type": "get", "source": "us-east", "id": 3})
    assert refused["code"] == "unknown_source"
