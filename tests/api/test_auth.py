"""API authentication: session or bearer token; 401 without credentials, 403 without the role."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, Membership
from tests.api.support import assert_error
from tests.factories import bearer, make_member, make_source, make_token, make_user

# NEW_SOURCE points at loopback.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

NEW_SOURCE = {"slug": "made-by-api", "name": "Made by API", "url": "http://127.0.0.1:9/status"}


def test_it_answers_401_without_credentials(client: Client) -> None:
    response = client.get("/api/v1/sources")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Basic dXNlcjpwYXNz", "Bearer   "])
def test_it_answers_401_for_a_malformed_authorization_header(client: Client, header: str) -> None:
    response = client.get("/api/v1/sources", HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "invalid_authorization")


def test_it_answers_401_for_an_unknown_token(client: Client) -> None:
    response = client.get("/api/v1/sources", **bearer("dit_" + "x" * 43))
    assert_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_it_answers_401_for_an_expired_token(client: Client) -> None:
    user = make_member("reader")
    _token, raw = ApiToken.issue(user, "old", expires_at=timezone.now() - timedelta(minutes=1))
    assert_error(client.get("/api/v1/sources", **bearer(raw)), 401, "invalid_token")


def test_it_answers_401_for_a_revoked_token_and_a_deactivated_user(client: Client) -> None:
    raw = make_token()
    assert client.get("/api/v1/sources", **bearer(raw)).status_code == 200
    ApiToken.objects.all().delete()
    assert_error(client.get("/api/v1/sources", **bearer(raw)), 401, "invalid_token")
    raw = make_token("other")
    ApiToken.objects.get().user.__class__.objects.filter(username="other").update(is_active=False)
    assert_error(client.get("/api/v1/sources", **bearer(raw)), 401, "invalid_token")


def test_it_records_when_a_token_was_last_used(client: Client) -> None:
    raw = make_token()
    assert ApiToken.objects.get().last_used_at is None
    client.get("/api/v1/sources", **bearer(raw))
    assert ApiToken.objects.get().last_used_at is not None


def test_it_accepts_a_browser_session(client: Client) -> None:
    client.force_login(make_member("reader"))
    make_source("us-east")
    response = client.get("/api/v1/sources")
    assert response.status_code == 200
    assert [s["slug"] for s in response.json()["sources"]] == ["us-east"]


def test_it_prefers_a_bad_token_over_a_good_session(client: Client) -> None:
    client.force_login(make_user())
    assert_error(client.get("/api/v1/sources", **bearer("dit_wrong")), 401, "invalid_token")


def test_it_refuses_writes_with_a_viewer_token_of_an_admin(client: Client) -> None:
    raw = make_token("admin", role="viewer", owner_role="admin")
    response = client.post("/api/v1/sources", data=NEW_SOURCE, content_type="application/json", **bearer(raw))
    assert_error(response, 403, "insufficient_role")


def test_it_caps_an_admin_token_at_its_owners_current_role(client: Client) -> None:
    raw = make_token("writer", role="admin", owner_role="admin")
    make_member("keeper", "admin")  # a team keeps one admin at least: another one first, then demote
    Membership.objects.filter(user__username="writer").update(role="viewer")
    response = client.post("/api/v1/sources", data=NEW_SOURCE, content_type="application/json", **bearer(raw))
    assert_error(response, 403, "insufficient_role")
    assert client.get("/api/v1/sources", **bearer(raw)).status_code == 200


def test_it_stops_a_token_whose_owner_left_the_team(client: Client) -> None:
    raw = make_token("leaver", role="viewer")
    assert client.get("/api/v1/sources", **bearer(raw)).status_code == 200
    Membership.objects.filter(user__username="leaver").delete()
    assert_error(client.get("/api/v1/sources", **bearer(raw)), 401, "invalid_token")


def test_it_refuses_writes_by_staff_without_a_role(client: Client) -> None:
    client.force_login(make_user("staff-only", staff=True))
    response = client.post("/api/v1/sources", data=NEW_SOURCE, content_type="application/json")
    assert_error(response, 403, "insufficient_role")


def test_it_accepts_writes_by_a_staff_write_token(client: Client) -> None:
    raw = make_token("admin", role="admin")
    response = client.post("/api/v1/sources", data=NEW_SOURCE, content_type="application/json", **bearer(raw))
    assert response.status_code == 201, response.content


def test_it_requires_the_csrf_token_for_session_writes() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_member("admin", "admin"))
    body = json.dumps(NEW_SOURCE)
    response = client.post("/api/v1/sources", data=body, content_type="application/json")
    assert_error(response, 403, "csrf_failed")
    csrf = "A" * 16 + "b" * 16  # what the CSRF cookie holds: a 32-character secret
    client.cookies["csrftoken"] = csrf
    response = client.post("/api/v1/sources", data=body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201, response.content


def test_it_lets_token_writes_through_without_csrf() -> None:
    client = Client(enforce_csrf_checks=True)
    raw = make_token("admin", role="admin")
    response = client.post("/api/v1/sources", data=NEW_SOURCE, content_type="application/json", **bearer(raw))
    assert response.status_code == 201


def test_it_serves_probes_and_the_schema_without_credentials(client: Client) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/ready").status_code in (200, 503)
    assert_error(client.get("/api/v1/info"), 401)
