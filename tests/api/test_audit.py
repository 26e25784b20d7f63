"""``GET /api/v1/audit`` and ``/api/v1/audit/export``: a team admin reads their teams' trail, paged and filtered;
a superuser reads everything; nobody else reads any of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts import audit
from tests.api.support import assert_error
from tests.factories import bearer, make_member, make_source, make_team, make_token, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_teams() -> dict[str, Any]:
    blue, red = make_team("blue"), make_team("red")
    make_source("blue-1", team=blue)
    make_source("blue-2", team=blue)
    make_source("red-1", team=red)
    audit.record("login", user=make_user("someone"))  # an account event: no team
    return {"blue": blue, "red": red}


def slugs(body: dict[str, Any]) -> list[str]:
    return [event["after"]["slug"] for event in body["events"] if event["object_type"] == "pollers.source"]


def test_it_shows_a_team_admin_only_their_teams_changes(client: Client, two_teams: dict[str, Any]) -> None:
    client.force_login(make_member("boss", "admin", two_teams["blue"]))
    body = client.get("/api/v1/audit?object_type=pollers.source").json()
    assert slugs(body) == ["blue-2", "blue-1"]
    assert {event["team"] for event in body["events"]} == {"blue"}
    everything = client.get("/api/v1/audit").json()["events"]
    assert all(event["team"] == "blue" for event in everything)


def test_it_gives_a_token_its_team_only_and_needs_the_admin_role(client: Client, two_teams: dict[str, Any]) -> None:
    admin = make_token("boss", role="admin", team=two_teams["red"])
    assert slugs(client.get("/api/v1/audit?object_type=pollers.source", **bearer(admin)).json()) == ["red-1"]
    viewer = make_token("watcher", role="viewer", team=two_teams["red"])
    assert_error(client.get("/api/v1/audit", **bearer(viewer)), 403, "insufficient_role")


def test_it_refuses_viewers_and_operators(client: Client, two_teams: dict[str, Any]) -> None:
    client.force_login(make_member("op", "operator", two_teams["blue"]))
    assert_error(client.get("/api/v1/audit"), 403, "insufficient_role")
    assert_error(client.get("/api/v1/audit/export"), 403, "insufficient_role")


def test_it_shows_a_superuser_everything(client: Client, two_teams: dict[str, Any]) -> None:
    client.force_login(make_user("root", superuser=True))
    body = client.get("/api/v1/audit").json()
    assert {"login", "create"} <= {event["action"] for event in body["events"]}
    assert slugs(client.get("/api/v1/audit?object_type=pollers.source").json()) == ["red-1", "blue-2", "blue-1"]


def test_it_filters_by_action_actor_and_time(client: Client, two_teams: dict[str, Any]) -> None:
    client.force_login(make_user("root", superuser=True))
    assert [e["actor"] for e in client.get("/api/v1/audit?action=login").json()["events"]] == ["someone"]
    assert client.get("/api/v1/audit?actor=someone").json()["events"][0]["action"] == "login"
    assert client.get("/api/v1/audit?since=now%2B1h").json()["events"] == []
    assert len(client.get("/api/v1/audit?until=now%2B1h&object_type=pollers.source").json()["events"]) == 3
    error = assert_error(client.get("/api/v1/audit?since=now&until=now-1h"), 400, "invalid_parameters")
    assert "until" in error["details"]["fields"]


def test_it_pages_with_a_cursor(client: Client, two_teams: dict[str, Any]) -> None:
    client.force_login(make_user("root", superuser=True))
    first = client.get("/api/v1/audit?object_type=pollers.source&limit=2").json()
    assert slugs(first) == ["red-1", "blue-2"]
    assert first["next"].startswith("/api/v1/audit?")
    second = client.get(first["next"]).json()
    assert slugs(second) == ["blue-1"]
    assert second["next_cursor"] is None
    assert second["next"] is None
    assert_error(client.get("/api/v1/audit?cursor=abc"), 400, "invalid_parameters")
    assert_error(client.get("/api/v1/audit?limit=0"), 400, "invalid_parameters")
    assert_error(client.get("/api/v1/audit?colour=red"), 400, "invalid_parameters")


def test_it_exports_ndjson_with_the_same_filters(client: Client, two_teams: dict[str, Any]) -> None:
    client.force_login(make_member("boss", "admin", two_teams["blue"]))
    response = client.get("/api/v1/audit/export?object_type=pollers.source")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]  # type: ignore[attr-defined]
    assert [line["after"]["slug"] for line in lines] == ["blue-2", "blue-1"]


def test_it_needs_credentials(client: Client) -> None:
    assert_error(client.get("/api/v1/audit"), 401, "not_authenticated")
