"""What a client reads when pydantic refuses a value: a 400 in the one error shape, the field as the key, and
a short sentence of ours rather than pydantic's wording or ninja's 422."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from pollers.models import Source
from tests.api.support import assert_error
from tests.factories import bearer, make_source, make_token

NOT_A_TIMESTAMP = (
    "not a date between 1970 and 9999: use ISO 8601 (2026-01-31T12:00:00Z), Unix seconds, or now-1h (s m h d w)"
)
NOT_A_DURATION = "not a duration: use a whole number and a unit, e.g. 30m, 1h, 24h, 7d (s m h d w, at most 3660d)"

pytestmark = pytest.mark.django_db

VALID = {"slug": "x", "name": "X", "url": "http://127.0.0.1:9/status"}


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings: Any) -> None:
    cache.clear()
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]


@pytest.fixture
def admin_token() -> str:
    return make_token("admin", role="admin")


def post(client: Client, token: str, body: Any) -> Any:
    return client.post("/api/v1/sources", data=json.dumps(body), content_type="application/json", **bearer(token))


@pytest.mark.parametrize(
    ("change", "field", "sentence"),
    [
        ({"name": ""}, "name", "must not be empty"),
        ({"name": "n" * 121}, "name", "longer than 120 characters"),
        ({"url": 5}, "url", "must be a string"),
        ({"enabled": None}, "enabled", "must be true or false"),
        ({"interval_seconds": 2.5}, "interval_seconds", "must be a whole number"),
        ({"interval_seconds": 4}, "interval_seconds", "must be at least 5"),
        ({"timeout_seconds": "10"}, "timeout_seconds", "must be a number"),
        ({"timeout_seconds": 121}, "timeout_seconds", "must be at most 120"),
        ({"tags": "prod"}, "tags", "must be a list"),
        ({"headers": []}, "headers", "must be an object"),
        ({"headers": {"A": 1}}, "headers", "must be a string"),
        ({"slug": "no spaces"}, "slug", "must match ^[-a-zA-Z0-9_]+$"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at", "read-only"),
        ({"volatile_paths": ["a\x00b"]}, "volatile_paths", "must not contain NUL characters"),
    ],
)
def test_it_says_what_is_wrong_with_each_field_of_a_body(
    client: Client, admin_token: str, change: dict[str, Any], field: str, sentence: str
) -> None:
    error = assert_error(post(client, admin_token, {**VALID, **change}), 400, "invalid_parameters")
    assert error["details"]["fields"] == {field: [sentence]}
    assert error["message"] == "The request body is invalid."
    assert not Source.objects.exists()


def test_it_names_a_missing_body_and_missing_fields(client: Client, admin_token: str) -> None:
    response = client.post("/api/v1/sources", data="", content_type="application/json", **bearer(admin_token))
    assert assert_error(response, 400)["details"]["fields"] == {"body": ["required"]}
    error = assert_error(post(client, admin_token, {"name": "X"}), 400)
    assert error["details"]["fields"] == {"slug": ["required"], "url": ["required"]}


def test_it_refuses_a_changed_slug_with_its_reason(client: Client, admin_token: str) -> None:
    make_source("us-east")
    response = client.patch(
        "/api/v1/sources/us-east", data='{"slug": "other"}', content_type="application/json", **bearer(admin_token)
    )
    error = assert_error(response, 400)
    assert error["details"]["fields"] == {
        "slug": ["cannot be changed: its history is stored under it; create a new source instead"]
    }
    assert Source.objects.get().slug == "us-east"


def test_it_reports_stray_and_bad_query_parameters_in_one_answer(client: Client) -> None:
    make_source("us-east")
    query = "limit=5&limit=6&colour=blue&from=yesterday&cursor=" + "c" * 513
    error = assert_error(client.get(f"/api/v1/metrics/us-east/history?{query}", **bearer(make_token())), 400)
    assert error["details"]["fields"] == {
        "limit": ["given more than once"],
        "colour": ["unknown parameter; this endpoint takes: from, to, range, limit, cursor"],
        "from": [NOT_A_TIMESTAMP],
        "cursor": ["longer than 512 characters"],
    }
    assert error["message"] == "Some query parameters are invalid."


@pytest.mark.parametrize(
    ("query", "field", "sentence"),
    [
        ("limit=0", "limit", "must be between 1 and 1000"),
        ("limit=ten", "limit", "must be a whole number"),
        (
            "to=2026-13-01",
            "to",
            NOT_A_TIMESTAMP,
        ),
        ("from=2026-02-01&to=2026-01-01", "from", "must be before 'to'"),
        (
            "range=soon",
            "range",
            NOT_A_DURATION,
        ),
        ("from=now-1h&range=1h", "range", "give either 'from' or 'range', not both"),
    ],
)
def test_it_says_what_is_wrong_with_a_query_parameter(client: Client, query: str, field: str, sentence: str) -> None:
    make_source("us-east")
    error = assert_error(client.get(f"/api/v1/metrics/us-east/changes?{query}", **bearer(make_token())), 400)
    assert error["details"]["fields"] == {field: [sentence]}


def test_it_says_which_values_a_choice_takes(client: Client) -> None:
    error = assert_error(client.get("/api/v1/sources?enabled=maybe", **bearer(make_token())), 400)
    assert error["details"]["fields"] == {"enabled": ["unknown value 'maybe'; one of true, false"]}
