"""Who may read the feeds, v2 JSON and badges of a page, and what every answer carries (statuspages/feed_access.py)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from accounts.teams import Role
from tests.factories import add_member, make_component, make_source, make_status_page, make_team, make_user

pytestmark = pytest.mark.django_db

GATED = (
    "feed.atom",
    "feed.json",
    "api/v2/summary.json",
    "api/v2/status.json",
    "api/v2/components.json",
    "api/v2/incidents.json",
    "api/v2/scheduled-maintenances.json",
    "badge.svg",
)


def basic(password: str, user: str = "") -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def component() -> Any:
    team = make_team("blue")
    page = make_status_page("acme", team=team)
    return make_component(page, "API", [make_source("eu-west")])


@pytest.mark.parametrize("route", GATED)
def test_it_serves_a_public_page_to_anyone_without_a_cookie(client: Client, component: Any, route: str) -> None:
    response = client.get(f"/status/acme/{route}")
    assert response.status_code == 200
    assert not response.cookies  # no session, no CSRF token
    assert "Cookie" not in response.get("Vary", "")
    assert "public" in response["Cache-Control"]
    assert response["ETag"].startswith('"')
    if not route.endswith(".svg"):
        assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("route", GATED)
def test_it_answers_not_modified_to_a_matching_etag(client: Client, component: Any, route: str) -> None:
    tag = client.get(f"/status/acme/{route}")["ETag"]
    again = client.get(f"/status/acme/{route}", HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == tag
    assert client.get(f"/status/acme/{route}", HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize("route", GATED)
def test_it_hides_unpublished_pages_from_visitors(client: Client, component: Any, route: str) -> None:
    component.page.published = False
    component.page.save()
    response = client.get(f"/status/acme/{route}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("route", GATED)
def test_it_keeps_a_members_page_to_the_team(client: Client, component: Any, route: str) -> None:
    page = component.page
    page.visibility = "members"
    page.save()
    url = f"/status/acme/{route}"
    assert client.get(url).status_code == 401
    outsider = make_user("outsider")
    add_member(outsider, make_team("red"), Role.ADMIN)
    client.force_login(outsider)
    assert client.get(url).status_code == 404  # the page's existence is not confirmed to outsiders
    member = make_user("member")
    add_member(member, page.team, Role.VIEWER)
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    assert "public" not in response["Cache-Control"]
    assert "Access-Control-Allow-Origin" not in response
    assert not response.cookies


@pytest.mark.parametrize("route", GATED)
def test_it_asks_for_the_password_of_a_password_page(client: Client, component: Any, route: str) -> None:
    page = component.page
    page.visibility = "password"
    page.set_password("open sesame")
    page.save()
    url = f"/status/acme/{route}"
    refused = client.get(url)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Basic")
    assert client.get(url, **basic("wrong")).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Basic !!!not-base64").status_code == 401
    allowed = client.get(url, **basic("open sesame", user="anyone"))
    assert allowed.status_code == 200
    assert "private" in allowed["Cache-Control"]
    assert not allowed.cookies


def test_it_stops_guessing_a_page_password(client: Client, component: Any, settings: Any) -> None:
    settings.STATUS_PAGE_PASSWORD_RATE_LIMIT = "3/d"
    page = component.page
    page.visibility = "password"
    page.set_password("open sesame")
    page.save()
    url = "/status/acme/api/v2/status.json"
    for attempt in range(3):
        assert client.get(url, **basic(f"guess {attempt}")).status_code == 401
    # Past the limit even the right password is refused, before it is checked. (Day-long windows: a
    # fixed minute window could roll over in the middle of a slow run and reset the count.)
    blocked = client.get(url, **basic("open sesame"))
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) >= 1
    # Another client address is not blocked.
    assert client.get(url, REMOTE_ADDR="10.9.8.7", **basic("open sesame")).status_code == 200


def test_it_limits_requests_per_client_address(client: Client, component: Any, settings: Any) -> None:
    settings.STATUS_PAGE_RATE_LIMIT_IP = "3/d"
    for _ in range(3):
        assert client.get("/status/acme/feed.json").status_code == 200
    limited = client.get(f"/status/badges/{component.badge_key}/status.svg")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert "no-store" in limited["Cache-Control"]
    assert client.get("/status/acme/feed.json", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_it_accepts_only_safe_methods(client: Client, component: Any) -> None:
    assert client.post("/status/acme/feed.atom").status_code == 405
    assert client.head("/status/acme/api/v2/summary.json").status_code == 200


@pytest.mark.parametrize("visibility", ["members", "password"])
def test_it_serves_badges_by_key_whatever_the_visibility(client: Client, component: Any, visibility: str) -> None:
    page = component.page
    page.visibility = visibility
    page.set_password("open sesame")
    page.save()
    by_key = client.get(f"/status/badges/{component.badge_key}/status.svg")
    assert by_key.status_code == 200
    assert by_key["Content-Type"].startswith("image/svg+xml")
    assert not by_key.cookies
    # By slug only public pages' badges are served: the slug is not a secret.
    assert client.get(f"/status/acme/badges/{component.pk}/status.svg").status_code == 404
    assert client.get("/status/badges/not-a-key/status.svg").status_code == 404


def test_it_shares_the_password_budget_with_the_page_form(client: Client, component: Any, settings: Any) -> None:
    settings.STATUS_PAGE_PASSWORD_RATE_LIMIT = "2/d"
    page = component.page
    page.visibility = "password"
    page.set_password("open sesame")
    page.save()
    for attempt in range(2):
        assert client.post("/status/acme/unlock/", {"password": f"guess {attempt}"}).status_code == 401
    assert client.get("/status/acme/feed.json", **basic("open sesame")).status_code == 429


def test_it_counts_only_wrong_passwords(client: Client, component: Any, settings: Any) -> None:
    settings.STATUS_PAGE_PASSWORD_RATE_LIMIT = "2/d"
    page = component.page
    page.visibility = "password"
    page.set_password("open sesame")
    page.save()
    # A widget polling with the right password never locks itself out.
    for _ in range(5):
        assert client.get("/status/acme/api/v2/status.json", **basic("open sesame")).status_code == 200


def test_it_lets_a_browser_that_unlocked_the_page_read_its_feeds(client: Client, component: Any) -> None:
    page = component.page
    page.visibility = "password"
    page.set_password("open sesame")
    page.save()
    assert client.get("/status/acme/feed.atom").status_code == 401
    assert client.post("/status/acme/unlock/", {"password": "open sesame"}).status_code == 303
    assert client.get("/status/acme/feed.atom").status_code == 200  # the unlock cookie's path covers the feeds


def test_it_shows_an_unpublished_page_only_to_its_team(client: Client, component: Any) -> None:
    page = component.page
    page.published = False
    page.save()
    member = make_user("member")
    add_member(member, page.team, Role.VIEWER)
    client.force_login(member)
    response = client.get("/status/acme/api/v2/summary.json")
    assert response.status_code == 200  # the team's preview
    assert "private" in response["Cache-Control"]


def test_it_matches_weak_and_listed_etags(client: Client, component: Any) -> None:
    tag = client.get("/status/acme/feed.json")["ETag"]
    assert client.get("/status/acme/feed.json", HTTP_IF_NONE_MATCH=f'"a", W/{tag}').status_code == 304
    assert client.get("/status/acme/feed.json", HTTP_IF_NONE_MATCH="*").status_code == 304
