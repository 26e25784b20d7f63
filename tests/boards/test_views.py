"""The boards pages: signed in; another team's board is a 404; editing controls only for editors."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from accounts.models import Role
from tests.factories import add_member, make_board, make_source, make_team, make_user

pytestmark = pytest.mark.django_db


def config_of(html: str, name: str) -> dict:  # type: ignore[type-arg]
    found = re.search(rf'id="{name}" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_it_sends_a_signed_out_visitor_to_the_login_page(client: Client) -> None:
    for path in ("/boards/", "/boards/compare/", "/boards/anything/"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert "/accounts/login/" in answer["Location"]


def test_it_shows_a_viewer_their_teams_boards_without_editing(client: Client) -> None:
    blue, red = make_team("blue"), make_team("red")
    make_board("Blue ops", team=blue)
    make_board("Red ops", team=red)
    make_source("us-east", team=blue)
    make_source("eu-west", team=red)
    viewer = make_user("vic")
    add_member(viewer, blue, Role.VIEWER)
    client.force_login(viewer)
    listing = client.get("/boards/").content.decode()
    assert "Blue ops" in listing
    assert "Red ops" not in listing
    assert 'id="new-board"' not in listing  # a viewer creates nothing
    assert client.get("/boards/red-ops/").status_code == 404
    page = client.get("/boards/blue-ops/").content.decode()
    config = config_of(page, "board-config")
    assert (config["can_edit"], config["sources"], config["team"]) == (False, ["us-east"], "blue")
    assert 'id="board-edit"' not in page


def test_it_gives_an_operator_the_editor(client: Client) -> None:
    blue = make_team("blue")
    make_board("Blue ops", team=blue)
    operator = make_user("olga")
    add_member(operator, blue, Role.OPERATOR)
    client.force_login(operator)
    assert 'id="new-board"' in client.get("/boards/").content.decode()
    page = client.get("/boards/blue-ops/").content.decode()
    assert config_of(page, "board-config")["can_edit"] is True
    assert 'id="board-edit"' in page


def test_it_offers_the_comparison_for_a_readable_metric(client: Client) -> None:
    make_source("us-east")
    client.force_login(make_user("root", superuser=True))
    page = client.get("/boards/compare/?metric=wait_time&range=7d").content.decode()
    assert config_of(page, "compare-config") | {"csrf": ""} == config_of(page, "compare-config") | {
        "csrf": "",
        "metric": "wait_time",
        "range": "7d",
    }
    unknown = config_of(client.get("/boards/compare/?metric=nope&range=2y").content.decode(), "compare-config")
    assert (unknown["metric"], unknown["range"]) == ("active_connections", "24h")
