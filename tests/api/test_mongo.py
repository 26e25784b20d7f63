"""The API on the MongoDB metric store (nx-27017 here, or MONGODB_TEST_URL): same responses as on SQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from metrics.stores import get_store
from tests.api.support import assert_matches_schema, payload
from tests.factories import bearer, make_source, make_token, record_history

pytestmark = pytest.mark.django_db

# Recent: MongoDB expires history past METRICS_HISTORY_RETENTION_DAYS. On an hour, so five minutes are one bucket.
T0 = (datetime.now(tz=UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
def mongo_store(mongodb_url: str, settings: Any) -> Iterator[None]:
    import uuid

    settings.METRIC_STORE = "mongodb"
    settings.MONGODB_URL = mongodb_url
    settings.MONGODB_DATABASE = f"api_test_{uuid.uuid4().hex[:8]}"
    get_store.cache_clear()
    yield
    get_store().delete_source("us-east")
    get_store.cache_clear()


def test_it_serves_metrics_history_series_and_export_from_mongodb(client: Client, mongo_store: None) -> None:
    source = make_source("us-east")
    record_history(source, [(T0 + timedelta(minutes=i), payload(10.0 + i)) for i in range(5)])
    token = make_token()

    latest = client.get("/api/v1/metrics/us-east", **bearer(token))
    assert latest.status_code == 200, latest.content
    assert_matches_schema(latest.json(), "Snapshot")
    assert latest.json()["metrics"]["cpu_load"] == 14.0
    assert latest.json()["fetched_at"] == iso(T0 + timedelta(minutes=4))

    first = client.get("/api/v1/metrics/us-east/history?limit=3", **bearer(token)).json()
    assert_matches_schema(first, "HistoryPage")
    second = client.get(first["next"], **bearer(token)).json()
    cpu = [e["metrics"]["cpu_load"] for e in first["entries"] + second["entries"]]
    assert cpu == [14.0, 13.0, 12.0, 11.0, 10.0]

    url = f"/api/v1/metrics/us-east/series?metric=cpu_load&from={iso(T0)}&to={iso(T0 + timedelta(minutes=10))}"
    series = client.get(url, **bearer(token)).json()
    assert_matches_schema(series, "Series")
    assert [(b["min"], b["max"], b["count"]) for b in series["buckets"]] == [(10.0, 14.0, 5)]

    export = client.get("/api/v1/export/us-east?format=ndjson", **bearer(token))
    lines = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    assert [line["metrics"]["cpu_load"] for line in lines] == [14.0, 13.0, 12.0, 11.0, 10.0]

    info = client.get("/api/v1/info", **bearer(token)).json()
    assert info["backends"]["metric_store"] == "mongodb"
