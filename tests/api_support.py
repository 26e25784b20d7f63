"""Helpers for the API tests: users, tokens and sources made through the real models."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import ApiToken
from pollers.models import Source

SECRET_HEADER_VALUE = "s3cr3t-upstream-credential-value"


def make_user(username: str = "reader", *, staff: bool = False) -> Any:
    return get_user_model().objects.create_user(username=username, password="a-long-test-password-9", is_staff=staff)


def make_token(username: str = "reader", *, scope: str = "read", staff: bool = False) -> str:
    user = get_user_model().objects.filter(username=username).first() or make_user(username, staff=staff)
    _token, raw = ApiToken.issue(user, f"{username}-{scope}-{ApiToken.objects.count()}", scope=scope)
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def make_source(slug: str = "us-east", **fields: Any) -> Source:
    values: dict[str, Any] = {
        "name": slug.replace("-", " ").title(),
        "url": f"http://127.0.0.1:9/{slug}/status",
        "region": slug,
        "headers": {"Authorization": f"Bearer {SECRET_HEADER_VALUE}", "Accept": "application/json"},
    }
    values.update(fields)
    return Source.objects.create(slug=slug, **values)


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


def api_client() -> Client:
    return Client()


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


def record_history(source: Source, points: list[tuple[Any, dict[str, Any]]]) -> None:
    """Store each (fetched_at, payload) through the process-wide store, as the poller does."""
    from metrics.stores import get_store

    store = get_store()
    for fetched_at, body in points:
        store.record(source.spec(), body, fetched_at)


def assert_matches_schema(body: Any, name: str) -> None:
    """``body`` validates against ``components/schemas/<name>`` of the served OpenAPI document."""
    import jsonschema_rs

    from api.ninja_api import api

    root = {"$ref": f"#/components/schemas/{name}", "components": api.get_openapi_schema()["components"]}
    problems = [f"{list(e.instance_path)}: {e.message}" for e in jsonschema_rs.validator_for(root).iter_errors(body)]
    assert problems == [], problems
