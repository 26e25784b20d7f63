"""Helpers for the API tests: the one error shape, the served schema, small payloads, rate-limit windows, what
an upstream received.

Sources, users, tokens and recorded history come from tests/factories.py."""

from __future__ import annotations

import time
from typing import Any

from django_ratelimit.core import _get_window

from pollers.fetch import Fetcher, FetchPolicy


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the API's one error shape, with ``status`` (and ``code`` when given)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if code is not None:
        assert body["error"]["code"] == code, body
    return dict(body["error"])


def payload(cpu: float, *, version: str = "v2.4.1", online: int = 50) -> dict[str, Any]:
    """A small upstream status payload (see the shared payload doc) with the given values."""
    return {
        "status": "ok",
        "version": version,
        "results": {
            "services": {"redis": True, "database": True},
            "stats": {"online": online, "servers_count": 3, "server": {"cpu_load": cpu, "active_connections": 10}},
        },
    }


def assert_matches_schema(body: Any, name: str) -> None:
    """``body`` validates against ``components/schemas/<name>`` of the served OpenAPI document."""
    import jsonschema_rs

    from api.ninja_api import api

    root = {"$ref": f"#/components/schemas/{name}", "components": api.get_openapi_schema()["components"]}
    problems = [f"{list(e.instance_path)}: {e.message}" for e in jsonschema_rs.validator_for(root).iter_errors(body)]
    assert problems == [], problems


def away_from_a_window_edge(value: str, period: int) -> None:
    """Wait until the fixed window counting ``value`` has a second or more to run, so a burst stays in it."""
    while _get_window(value, period) - int(time.time()) < 1:
        time.sleep(0.05)


def headers_received(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """What a simulator's ``/echo/headers`` at ``url`` received from the poller's fetcher, over a real socket."""
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0))
    try:
        fetched = fetcher.fetch(url, headers, timeout=5)
    finally:
        fetcher.close()
    assert fetched.payload is not None, fetched.error_message
    return dict(fetched.payload)
