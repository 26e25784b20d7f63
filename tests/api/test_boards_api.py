"""/api/v1/boards, /api/v1/compare and /api/v1/annotations: teams decide, errors keep the one shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from boards.models import Annotation, Board
from tests.factories import (
    add_member,
    bearer,
    board_document,
    make_board,
    make_source,
    make_team,
    make_token,
    make_user,
    payload,
    record_history,
)

pytestmark = pytest.mark.django_db


def send(client: Client, method: str, path: str, body: Any = None, **extra: Any) -> Any:
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(path, data=data, content_type="application/json", **extra)


@pytest.fixture
def blue() -> Any:
    return make_team("blue")


@pytest.fixture
def operator(client: Client, blue: Any) -> Client:
    user = make_user("olga")
    add_member(user, blue, Role.OPERATOR)
    client.force_login(user)
    return client


def test_it_creates_saves_restores_and_duplicates_a_board(operator: Client) -> None:
    created = send(operator, "post", "/api/v1/boards", board_document("Ops"))
    assert created.status_code == 201, created.json()
    assert created["Location"] == "/api/v1/boards/ops"
    assert created.json()["team"] == "blue"
    saved = send(operator, "put", "/api/v1/boards/ops", board_document("Ops v2", time_range="7d"))
    assert saved.json()["saved_version"] == 2
    assert saved.json()["document"]["time_range"] == "7d"
    versions = operator.get("/api/v1/boards/ops/versions").json()["versions"]
    assert [v["number"] for v in versions] == [2, 1]
    restored = operator.post("/api/v1/boards/ops/versions/1/restore")
    assert (restored.json()["saved_version"], restored.json()["title"]) == (3, "Ops")
    assert operator.post("/api/v1/boards/ops/versions/9/restore").json()["error"]["code"] == "version_not_found"
    copy = operator.post("/api/v1/boards/ops/duplicate")
    assert (copy.status_code, copy.json()["slug"]) == (201, "ops-copy")
    assert [b["slug"] for b in operator.get("/api/v1/boards").json()["boards"]] == ["ops", "ops-copy"]
    exported = operator.get("/api/v1/boards/ops").json()["document"]
    assert exported["format"] == "devops-insights.board/1"
    assert exported["team"] == "blue"
    assert operator.delete("/api/v1/boards/ops-copy").status_code == 204


def test_it_names_the_path_of_each_problem_in_a_document(operator: Client) -> None:
    document = board_document(panels=[{"id": "a", "type": "stat", "x": 0, "y": 0, "w": 3, "h": 2, "sources": []}])
    answer = send(operator, "post", "/api/v1/boards", document)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"] == "The board document is invalid."
    assert set(error["details"]["fields"]) == {"panels[0].sources", "panels[0].metric"}
    assert send(operator, "post", "/api/v1/boards", ["nope"]).status_code == 400
    bad_json = operator.post("/api/v1/boards", data="{", content_type="application/json")
    assert bad_json.status_code == 400
    assert not Board.objects.exists()


def test_it_lets_viewers_read_but_not_change_and_hides_other_teams(client: Client, blue: Any) -> None:
    board = make_board("Blue", team=blue)
    make_board("Red", team=make_team("red"))
    viewer = make_user("vic")
    add_member(viewer, blue, Role.VIEWER)
    client.force_login(viewer)
    assert [b["slug"] for b in client.get("/api/v1/boards").json()["boards"]] == ["blue"]
    assert client.get("/api/v1/boards/red").status_code == 404
    refused = send(client, "put", f"/api/v1/boards/{board.slug}", board_document("Mine"))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "insufficient_role")
    assert send(client, "post", "/api/v1/boards", board_document()).status_code == 403  # no team to edit in


def test_it_refuses_a_viewer_token_writes_and_keeps_a_token_in_its_team(client: Client, blue: Any) -> None:
    make_board("Blue", team=blue)
    make_board("Red", team=make_team("red"))
    raw = make_token("tokyo", role=Role.VIEWER, team=blue)
    assert client.get("/api/v1/boards/blue", **bearer(raw)).status_code == 200
    assert client.get("/api/v1/boards/red", **bearer(raw)).status_code == 404
    refused = client.post("/api/v1/boards/blue/duplicate", **bearer(raw))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "insufficient_role")


def test_it_says_can_edit_by_the_tokens_role_not_only_its_owners(client: Client, blue: Any) -> None:
    # can_edit asked the owner's membership alone: an editor's viewer token was told it could edit, and its PUT
    # was then refused.
    make_board("Blue", team=blue)
    viewer = make_token("olga", role=Role.VIEWER, team=blue, owner_role=Role.OPERATOR)
    operator = make_token("olga", role=Role.OPERATOR, team=blue)
    assert client.get("/api/v1/boards/blue", **bearer(viewer)).json()["can_edit"] is False
    assert [b["can_edit"] for b in client.get("/api/v1/boards", **bearer(viewer)).json()["boards"]] == [False]
    assert client.get("/api/v1/boards/blue", **bearer(operator)).json()["can_edit"] is True
    assert [b["can_edit"] for b in client.get("/api/v1/boards", **bearer(operator)).json()["boards"]] == [True]


def test_it_serves_panel_data_and_refuses_bad_parameters(operator: Client, blue: Any) -> None:
    source = make_source("us-east", team=blue)
    now = datetime.now(UTC)
    record_history(source, [(now - timedelta(minutes=5), payload())])
    make_board("Ops", team=blue)
    data = operator.get("/api/v1/boards/ops/data?range=1h").json()
    assert data["panels"]["cpu"]["sources"] == ["us-east"]
    assert data["range"]["name"] == "1h"
    zoom = operator.get(f"/api/v1/boards/ops/data?from={int(now.timestamp()) - 600}&to={int(now.timestamp())}")
    assert zoom.json()["range"]["name"] == "custom"
    for query in ("range=2y", "from=1&to=2", "vars=oops", "colour=red"):
        answer = operator.get(f"/api/v1/boards/ops/data?{query}")
        assert answer.status_code == 400, query
        assert "fields" in answer.json()["error"]["details"]


def test_it_takes_panel_ranges_as_every_api_time_is_written(operator: Client, blue: Any) -> None:
    # docs/api.md: times are ISO 8601, Unix seconds or now-1h wherever ``from`` is taken, and ``from`` with
    # ``range`` is a 400. The board data and the comparison took only epoch seconds ("must be a number") and
    # let ``from`` silently win over ``range``.
    make_source("us-east", team=blue)
    make_board("Ops", team=blue)
    for query in ("from=now-2h&to=now-1h", "from=2026-12-01T10:00:00Z&to=2026-12-01T12:00:00Z"):
        for path in ("/api/v1/boards/ops/data", "/api/v1/compare?metric=cpu_load"):
            answer = operator.get(f"{path}{'&' if '?' in path else '?'}{query}")
            assert (answer.status_code, answer.json()["range"]["name"]) == (200, "custom"), (path, query)
    both = operator.get("/api/v1/boards/ops/data?range=1h&from=now-2h&to=now-1h")
    assert both.status_code == 400
    assert both.json()["error"]["details"]["fields"] == {"range": ["give either 'from' or 'range', not both"]}
    alone = operator.get("/api/v1/compare?metric=cpu_load&from=now-2h")
    assert alone.json()["error"]["details"]["fields"] == {"range": ["give both from and to (a zoom), or a range"]}


def test_it_compares_regions(operator: Client, blue: Any) -> None:
    now = datetime.now(UTC)
    for slug in ("us-east", "eu-west", "eu-central"):
        record_history(make_source(slug, team=blue), [(now - timedelta(minutes=5), payload())])
    answer = operator.get("/api/v1/compare?metric=cpu_load&range=1h").json()
    assert sorted(answer["ranking"]) == ["eu-central", "eu-west", "us-east"]
    assert operator.get("/api/v1/compare?metric=cpu%20load").status_code == 400


def test_it_records_and_lists_annotations_for_ci(client: Client, blue: Any) -> None:
    source = make_source("us-east", team=blue)
    raw = make_token("ci", role=Role.OPERATOR, team=blue)
    made = send(
        client,
        "post",
        "/api/v1/annotations",
        {"text": "release 2.6.15", "source": "us-east", "tags": ["ci"]},
        **bearer(raw),
    )
    assert made.status_code == 201, made.json()
    assert made.json()["kind"] == "manual"
    assert made.json()["created_by"] == "ci"
    team_wide = send(client, "post", "/api/v1/annotations", {"text": "freeze", "at": "now-1h"}, **bearer(raw))
    assert team_wide.json()["source"] is None
    Annotation.objects.create(team=make_team("red"), at=datetime.now(UTC), text="secret")
    listed = client.get("/api/v1/annotations?source=us-east", **bearer(raw)).json()["annotations"]
    assert [a["text"] for a in listed] == ["release 2.6.15", "freeze"]
    since = client.get("/api/v1/annotations?since=now-30m", **bearer(raw)).json()["annotations"]
    assert [a["text"] for a in since] == ["release 2.6.15"]
    for body, field in (
        ({"text": ""}, "text"),
        ({"text": "x", "colour": 1}, "colour"),
        ({"text": "x", "source": "nope"}, "source"),
    ):
        answer = send(client, "post", "/api/v1/annotations", body, **bearer(raw))
        assert answer.status_code == 400, body
        assert field in answer.json()["error"]["details"]["fields"], answer.json()
    assert client.get("/api/v1/annotations?since=yesterday", **bearer(raw)).status_code == 400
    assert Annotation.objects.filter(source=source).count() == 1


def test_it_lists_no_marker_of_a_source_moved_to_another_team(client: Client, blue: Any) -> None:
    # The old team's list kept its markers of a source moved away, naming the source and its changes.
    source = make_source("us-east", team=blue)
    Annotation.objects.create(team=blue, source=source, at=datetime.now(UTC), text="version v1 -> v2")
    Annotation.objects.create(team=blue, at=datetime.now(UTC), text="freeze")
    raw = make_token("ci", role=Role.VIEWER, team=blue)
    source.team = make_team("red")
    source.save()
    listed = client.get("/api/v1/annotations", **bearer(raw)).json()["annotations"]
    assert [a["text"] for a in listed] == ["freeze"]


def test_it_checks_if_match_before_saving_or_deleting_a_board(operator: Client) -> None:
    # If-Match was compared after the save, with the ETag of the saved board: a stale ETag got a 412 with the
    # new version saved all the same, and a DELETE ignored it.
    send(operator, "post", "/api/v1/boards", board_document("Ops"))
    etag = operator.get("/api/v1/boards/ops")["ETag"]

    stale = send(operator, "put", "/api/v1/boards/ops", board_document("Stale"), HTTP_IF_MATCH='"0" , "1"')
    assert stale.status_code == 412, stale.content
    assert stale.json()["error"]["code"] == "precondition_failed"
    assert Board.objects.get(slug="ops").version == 1

    fresh = send(operator, "put", "/api/v1/boards/ops", board_document("Ops v2"), HTTP_IF_MATCH=etag)
    assert fresh.status_code == 200, fresh.content
    assert Board.objects.get(slug="ops").version == 2

    assert send(operator, "put", "/api/v1/boards/ops", board_document("Lost"), HTTP_IF_MATCH=etag).status_code == 412
    assert operator.delete("/api/v1/boards/ops", HTTP_IF_MATCH=etag).status_code == 412
    assert Board.objects.filter(slug="ops").exists()
    current = operator.get("/api/v1/boards/ops")["ETag"]
    assert operator.delete("/api/v1/boards/ops", HTTP_IF_MATCH=current).status_code == 204
    assert not Board.objects.filter(slug="ops").exists()
