"""``GET /api/v1/alerts``: active alerts and recent events, filters, auth and JSON errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.models import ApiToken
from alerts.models import Silence
from tests.alerts.support import START, PollDriver, make_rule
from tests.api.support import away_from_a_window_edge
from tests.factories import PASSWORD, make_source, make_token, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/alerts"


@pytest.fixture
def token() -> str:
    return make_token("reader")


@pytest.fixture
def alerting() -> dict[str, Any]:
    """us-east: cpu firing (warning) and down pending (critical); eu-west: cpu fired and resolved."""
    east = make_source("us-east", tags=["prod"])
    west = make_source("eu-west")
    cpu = make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    make_rule(name="down", kind="metric", metric="online", operator="<", threshold=1, fire_after=3, severity="critical")
    east_polls = PollDriver(east)
    east_polls.ok(cpu_load=95, online=0)
    west_polls = PollDriver(west)
    west_polls.ok(cpu_load=99, online=5)
    west_polls.ok(cpu_load=10, online=5)
    west_polls.ok(cpu_load=10, online=5)
    return {"east": east, "west": west, "cpu": cpu}


def get(client: Client, token: str, **params: Any) -> Any:
    return client.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_it_requires_a_session_or_a_token(client: Client, token: str) -> None:
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert response["WWW-Authenticate"].startswith("Bearer")
    bad = client.get(URL, HTTP_AUTHORIZATION="Bearer dit_not-a-real-token")
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "invalid_token")
    assert client.get(URL, HTTP_AUTHORIZATION=f"Basic {token}").status_code == 401
    assert get(client, token).status_code == 200
    make_user("viewer")
    client.login(username="viewer", password=PASSWORD)
    assert client.get(URL).status_code == 200


def test_it_lists_active_alerts_and_recent_events(client: Client, token: str, alerting: dict[str, Any]) -> None:
    body = get(client, token).json()
    assert [(a["source"], a["rule"]["name"], a["state"], a["severity"]) for a in body["active"]] == [
        ("us-east", "cpu", "firing", "warning"),
        ("us-east", "down", "pending", "critical"),
    ]
    firing = body["active"][0]
    assert firing["condition"] == "cpu_load > 85"
    assert firing["value"]["value"] == 95
    assert firing["firing_since"] == START.isoformat()
    assert firing["silenced"] is False
    assert [(e["kind"], e["source"]) for e in body["events"]] == [
        ("resolved", "eu-west"),
        ("fired", "eu-west"),
        ("fired", "us-east"),
    ]
    assert body["events"][0]["fired_event_id"] == body["events"][1]["id"]
    assert "private" in get(client, token)["Cache-Control"]  # per caller, never shared by a proxy


def test_it_filters_by_state_source_severity_kind_since_and_limit(
    client: Client, token: str, alerting: dict[str, Any]
) -> None:
    assert [a["rule"]["name"] for a in get(client, token, state="pending").json()["active"]] == ["down"]
    assert [a["rule"]["name"] for a in get(client, token, severity="critical").json()["active"]] == ["down"]
    assert get(client, token, severity="critical").json()["events"] == []
    west = get(client, token, source="eu-west").json()
    assert west["active"] == []
    assert {e["source"] for e in west["events"]} == {"eu-west"}
    assert [e["kind"] for e in get(client, token, kind="resolved").json()["events"]] == ["resolved"]
    later = (START + timedelta(seconds=45)).isoformat()
    assert [e["kind"] for e in get(client, token, since=later).json()["events"]] == ["resolved"]
    assert len(get(client, token, limit=1).json()["events"]) == 1


def test_it_marks_silenced_alerts(client: Client, token: str, alerting: dict[str, Any]) -> None:
    from django.utils import timezone

    now = timezone.now()
    Silence.objects.create(
        tag="prod", reason="deploy", starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1)
    )
    assert {a["silenced"] for a in get(client, token).json()["active"]} == {True}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"state": "burning"}, "state"),
        ({"severity": "fatal"}, "severity"),
        ({"kind": "exploded"}, "kind"),
        ({"source": "nowhere"}, "source"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-13-45T00:00:00"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sort": "asc"}, "sort"),
        ({"source": "us\x00east"}, "source"),
    ],
)
def test_it_rejects_bad_parameters_with_a_json_error(
    client: Client, token: str, params: dict[str, str], parameter: str
) -> None:
    response = get(client, token, **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameters"
    assert list(error["details"]["fields"]) == [parameter]
    assert error["details"]["fields"][parameter][0]  # says what is wrong


def test_it_only_answers_get(client: Client, token: str) -> None:
    response = client.post(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_it_is_described_in_the_openapi_document(client: Client, token: str) -> None:
    document = client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    operation = document["paths"]["/api/v1/alerts"]["get"]
    assert operation["operationId"] == "listAlerts"
    assert {p["name"] for p in operation["parameters"]} == {"state", "source", "severity", "kind", "since", "limit"}
    assert {"AlertList", "ActiveAlert", "AlertEvent", "AlertRuleRef"} <= set(document["components"]["schemas"])


def test_it_rate_limits_like_the_rest_of_the_api(client: Client, token: str, redis_settings: Any) -> None:
    redis_settings.API_RATE_LIMIT_TOKEN = "2/m"
    away_from_a_window_edge(f"token:{ApiToken.objects.get().pk}", 60)
    responses = [get(client, token) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json()["error"]["code"] == "rate_limited"


def test_it_answers_what_its_openapi_schema_says_with_alerts_and_events(
    client: Client, token: str, alerting: dict[str, Any]
) -> None:
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    validator = Draft202012Validator({"$ref": "#/components/schemas/AlertList", "components": document["components"]})
    body = get(client, token).json()
    assert body["active"]
    assert body["events"]
    assert list(validator.iter_errors(body)) == []
    body["events"][0]["surprise"] = 1  # the schema is strict: a drifting view would be caught
    assert list(validator.iter_errors(body)) != []
