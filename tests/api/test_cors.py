"""CORS is closed by default and opened per origin by API_CORS_ALLOWED_ORIGINS."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.factories import bearer, make_token

pytestmark = pytest.mark.django_db


def preflight(client: Client, origin: str) -> Any:
    return client.options(
        "/api/v1/sources",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


def test_it_sends_no_cors_headers_by_default(client: Client) -> None:
    assert "Access-Control-Allow-Origin" not in preflight(client, "https://evil.example")
    response = client.get("/api/v1/sources", HTTP_ORIGIN="https://evil.example", **bearer(make_token()))
    assert "Access-Control-Allow-Origin" not in response


def test_it_allows_listed_origins_only(client: Client, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://ops.example.com"]
    allowed = preflight(client, "https://ops.example.com")
    assert allowed["Access-Control-Allow-Origin"] == "https://ops.example.com"
    assert "authorization" in allowed["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed
    assert "Access-Control-Allow-Origin" not in preflight(client, "https://evil.example")
    response = client.get("/api/v1/sources", HTTP_ORIGIN="https://ops.example.com", **bearer(make_token()))
    assert response["Access-Control-Allow-Origin"] == "https://ops.example.com"
    assert "ETag" in response["Access-Control-Expose-Headers"]


def test_it_never_opens_cors_outside_the_api(client: Client, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://ops.example.com"]
    response = client.get("/admin/login/", HTTP_ORIGIN="https://ops.example.com")
    assert "Access-Control-Allow-Origin" not in response
