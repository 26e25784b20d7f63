"""App-wide hardening: security headers on pages and API responses; bad API settings fail fast in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.run_manage import assert_one_line_error, run_manage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/admin/login/", "/api/v1/health", "/api/v1/sources", "/api/v1/openapi.json"])
def test_it_sends_the_security_headers(client: Client, path: str) -> None:
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_it_never_lets_api_responses_be_stored_by_shared_caches(client: Client) -> None:
    response = client.get("/api/v1/sources")
    assert "private" in response["Cache-Control"]
    assert "Authorization" in response["Vary"]


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("API_RATE_LIMIT_TOKEN", "fast", "expected a rate like 600/m"),
        ("LOGIN_RATE_LIMIT_IP", "10 per minute", "expected a rate"),
        ("API_MAX_PAGE_SIZE", "0", "must be at least 1"),
        ("TRUSTED_PROXY_COUNT", "many", "expected a whole number"),
        ("RATELIMIT_FAIL_OPEN", "perhaps", "expected true or false"),
        ("API_CORS_ALLOWED_ORIGINS", "https://ops.example.com/path", "is not an origin"),
        ("API_CORS_ALLOWED_ORIGINS", "ops.example.com", "is not an origin"),
    ],
)
def test_it_rejects_bad_api_settings_in_one_line(tmp_path: Path, variable: str, value: str, words: str) -> None:
    assert_one_line_error(run_manage("check", env={variable: value}, tmp_path=tmp_path), variable, words)


def test_it_rejects_a_default_page_larger_than_the_largest(tmp_path: Path) -> None:
    result = run_manage("check", env={"API_PAGE_SIZE": "200", "API_MAX_PAGE_SIZE": "100"}, tmp_path=tmp_path)
    assert_one_line_error(result, "API_PAGE_SIZE", "must not exceed API_MAX_PAGE_SIZE")
