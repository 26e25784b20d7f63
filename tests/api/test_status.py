"""/api/v1/ready checks real dependencies (503 when one is down) and /api/v1/info describes the service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from pollers.models import PollerProcess
from tests.api.support import assert_error
from tests.factories import bearer, make_source, make_token
from tests.services import free_port

pytestmark = pytest.mark.django_db


def heartbeat(seconds_ago: float = 0) -> PollerProcess:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    return PollerProcess.objects.create(
        process_id=f"host:1:{seconds_ago}", hostname="host", pid=1, started_at=at, last_heartbeat_at=at
    )


def test_it_is_ready_when_every_dependency_answers(client: Client, redis_settings: Any) -> None:
    heartbeat()
    response = client.get("/api/v1/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "metric_store", "poller"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0
    assert body["checks"]["cache"]["detail"] == "RedisCache"
    assert response["Cache-Control"] == "no-store"


def test_it_is_not_ready_when_the_cache_is_down(client: Client, redis_settings: Any) -> None:
    heartbeat()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    redis_settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": closed,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    response = client.get("/api/v1/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "not_ready"
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["channel_layer"]["status"] == "ok"  # still on the working Redis


def test_it_is_not_ready_when_the_channel_layer_is_down(client: Client, redis_settings: Any) -> None:
    heartbeat()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    redis_settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [closed]}}
    }
    response = client.get("/api/v1/ready")
    assert response.status_code == 503
    check = response.json()["checks"]["channel_layer"]
    assert check["status"] == "down"
    assert closed not in check["detail"]


def test_it_is_not_ready_without_a_recent_poller_heartbeat(client: Client, settings: Any) -> None:
    heartbeat(seconds_ago=600)
    response = client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["poller"]["status"] == "down"
    settings.API_READY_REQUIRE_POLLER = False  # web-only deployments may opt out
    response = client.get("/api/v1/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["poller"]["status"] == "down"


def test_it_describes_the_service(client: Client) -> None:
    make_source("eu-north", region="eu-north")
    response = client.get("/api/v1/info", **bearer(make_token()))
    body = response.json()
    assert response.status_code == 200
    assert body["version"]
    assert body["backends"]["database"] in ("sqlite", "postgresql")
    assert body["backends"]["cache"] == "local-memory"
    assert body["backends"]["metric_store"] in ("sql", "mongodb")
    assert "us-east" in body["regions"]
    assert "eu-north" in body["regions"]


def test_it_answers_405_for_a_post_to_ready(client: Client) -> None:
    assert_error(client.post("/api/v1/ready"), 405)


def test_it_is_not_ready_when_the_metric_store_is_down(client: Client, settings: Any) -> None:
    from metrics.stores import get_store

    heartbeat()
    settings.METRIC_STORE = "mongodb"
    settings.MONGODB_URL = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS = 300
    get_store.cache_clear()
    try:
        response = client.get("/api/v1/ready")
    finally:
        get_store.cache_clear()
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["metric_store"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert "127.0.0.1" not in body["checks"]["metric_store"]["detail"]
