"""Every error under /api/ has the one shape {"error": {"code", "message", "details"}} and its status."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.api.crash_urls import CRASH_SECRET
from tests.api.support import assert_error
from tests.factories import bearer, make_source, make_token

pytestmark = pytest.mark.django_db


def test_it_answers_an_unknown_api_path_with_a_json_404(client: Client, settings: Any) -> None:
    settings.DEBUG = True  # the technical 404 page must not leak either
    response = client.get("/api/v1/no-such-thing")
    error = assert_error(response, 404, "not_found")
    assert "/api/v1/no-such-thing" in error["message"]
    assert response["X-Request-ID"]


def test_it_answers_an_unknown_source_with_a_json_404(client: Client) -> None:
    response = client.get("/api/v1/sources/nope", **bearer(make_token()))
    assert_error(response, 404, "source_not_found")


def test_it_answers_a_wrong_method_with_405_and_allow(client: Client) -> None:
    response = client.put("/api/v1/sources", data="{}", content_type="application/json", **bearer(make_token()))
    error = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD, POST"
    assert error["details"]["allowed"] == ["GET", "HEAD", "POST"]


def test_it_refuses_a_body_that_is_not_json_with_415(client: Client) -> None:
    token = make_token("admin", role="admin")
    response = client.post("/api/v1/sources", data="slug=x", content_type="text/plain", **bearer(token))
    error = assert_error(response, 415, "unsupported_media_type")
    assert error["details"]["expected"] == "application/json"


def test_it_refuses_a_body_over_the_limit_with_413(client: Client, settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 1024
    token = make_token("admin", role="admin")
    body = '{"slug": "big", "name": "' + "x" * 2000 + '"}'
    response = client.post("/api/v1/sources", data=body, content_type="application/json", **bearer(token))
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["limit_bytes"] == 1024


def test_it_refuses_a_body_over_djangos_own_limit_with_413(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1500  # below the API limit: Django refuses first
    token = make_token("admin", role="admin")
    body = '{"slug": "big", "name": "' + "x" * 2000 + '"}'
    response = client.post("/api/v1/sources", data=body, content_type="application/json", **bearer(token))
    assert_error(response, 413)


@pytest.mark.parametrize(
    ("body", "words"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"interval_seconds": NaN}', "not valid JSON")],
)
def test_it_refuses_malformed_json_with_400(client: Client, body: str, words: str) -> None:
    token = make_token("admin", role="admin")
    response = client.post("/api/v1/sources", data=body, content_type="application/json", **bearer(token))
    error = assert_error(response, 400, "invalid_json")
    assert words in error["message"]


def test_it_answers_an_unhandled_error_with_a_request_id_and_no_internals(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ROOT_URLCONF = "tests.api.crash_urls"
    settings.DEBUG = True  # even in debug, the API never renders the technical 500 page
    response = client.get("/api/v1/crash", HTTP_X_REQUEST_ID="req-abc-123", **bearer(make_token()))
    error = assert_error(response, 500, "internal_error")
    assert error["details"] == {"request_id": "req-abc-123"}
    assert response["X-Request-ID"] == "req-abc-123"
    text = response.content.decode()
    assert CRASH_SECRET not in text
    assert "Traceback" not in text
    assert "SECRET_KEY" not in text
    # The log has what the response hides, under the same id.
    assert any("req-abc-123" in r.getMessage() and r.exc_info for r in caplog.records)


def test_it_replaces_a_malformed_request_id(client: Client) -> None:
    response = client.get("/api/v1/nothing", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("limit=ten", "limit"),
        ("colour=blue", "colour"),
        ("limit=5&limit=6", "limit"),
    ],
)
def test_it_names_each_bad_query_parameter(client: Client, query: str, field: str) -> None:
    make_source("us-east")
    response = client.get(f"/api/v1/metrics/us-east/history?{query}", **bearer(make_token()))
    error = assert_error(response, 400, "invalid_parameters")
    assert field in error["details"]["fields"], error


def test_it_reports_every_bad_parameter_at_once(client: Client) -> None:
    make_source("us-east")
    response = client.get("/api/v1/metrics/us-east/history?from=x&limit=-1", **bearer(make_token()))
    error = assert_error(response, 400)
    assert set(error["details"]["fields"]) == {"from", "limit"}


def test_it_says_a_bad_path_parameter_is_in_the_path(client: Client) -> None:
    # `/objectives/abc` was answered "Some query parameters are invalid." with no query string at all.
    response = client.get("/api/v1/objectives/abc", **bearer(make_token()))
    error = assert_error(response, 400, "invalid_parameters")
    assert error["message"] == "The path is invalid."
    assert error["details"]["fields"] == {"objective_id": ["must be a whole number"]}


def test_it_keeps_non_api_pages_out_of_the_json_shape(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/api/v1/sources", 401), ("get", "/api/v1/nothing-here", 404), ("post", "/api/v1/health", 405)],
)
def test_it_logs_each_error_response_once_inside_the_request(
    client: Client, caplog: pytest.LogCaptureFixture, method: str, path: str, status: int
) -> None:
    from observability.context import current_request_id

    seen: list[str | None] = []
    handler_emit = caplog.handler.emit

    def emit(record: Any) -> None:
        # The request id bound while the line is written: None would mean it was logged after the request.
        seen.append(current_request_id())
        handler_emit(record)

    caplog.handler.emit = emit  # type: ignore[method-assign]
    response = getattr(client, method)(path, HTTP_X_REQUEST_ID="req-log-1")
    assert response.status_code == status
    lines = [r for r in caplog.records if r.name == "django.request"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].status_code == status
    request_lines = [i for i, r in enumerate(caplog.records) if r.name == "django.request"]
    assert seen[request_lines[0]] == "req-log-1"
