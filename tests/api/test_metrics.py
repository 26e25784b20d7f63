"""/api/v1/metrics: latest snapshots, history, series and changes through the read-cached store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from metrics.stores import get_store
from pollers.models import Source
from tests.api.support import assert_error, assert_matches_schema, payload
from tests.factories import bearer, make_source, make_token, record_history

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def token() -> str:
    return make_token()


@pytest.fixture
def us_east() -> Any:
    source = make_source("us-east")
    # Five distinct payloads a minute apart: five history entries, five changes.
    record_history(source, [(T0 + timedelta(minutes=i), payload(10.0 + i, online=50 + i)) for i in range(5)])
    return source


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_it_returns_the_latest_of_every_source_in_one_response(client: Client, token: str, us_east: Any) -> None:
    eu = make_source("eu-west")
    record_history(eu, [(T0, payload(77.0))])
    make_source("sa-east")  # never polled: absent, not an error
    response = client.get("/api/v1/metrics", **bearer(token))
    assert response.status_code == 200
    sources = response.json()["sources"]
    assert list(sources) == ["eu-west", "us-east"]
    assert sources["us-east"]["metrics"]["cpu_load"] == 14.0
    assert sources["eu-west"]["metrics"]["cpu_load"] == 77.0
    assert "payload" not in sources["us-east"]
    with_payload = client.get("/api/v1/metrics?payload=true", **bearer(token)).json()["sources"]
    assert with_payload["us-east"]["payload"]["results"]["stats"]["server"]["cpu_load"] == 14.0


def test_it_returns_one_sources_latest_snapshot(client: Client, token: str, us_east: Any) -> None:
    body = client.get("/api/v1/metrics/us-east", **bearer(token)).json()
    assert body["source"] == "us-east"
    assert body["metrics"]["online"] == 54
    assert body["payload"]["version"] == "v2.4.1"
    assert body["fetched_at"] == iso(T0 + timedelta(minutes=4))


def test_it_answers_404_for_a_source_without_data(client: Client, token: str) -> None:
    make_source("sa-east")
    assert_error(client.get("/api/v1/metrics/sa-east", **bearer(token)), 404, "no_data")
    assert_error(client.get("/api/v1/metrics/nope", **bearer(token)), 404, "source_not_found")


def test_it_answers_304_when_the_client_copy_is_current(client: Client, token: str, us_east: Any) -> None:
    first = client.get("/api/v1/metrics/us-east", **bearer(token))
    etag, modified = first["ETag"], first["Last-Modified"]
    again = client.get("/api/v1/metrics/us-east", HTTP_IF_NONE_MATCH=etag, **bearer(token))
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    since = client.get("/api/v1/metrics/us-east", HTTP_IF_MODIFIED_SINCE=modified, **bearer(token))
    assert since.status_code == 304
    # A new poll with new content changes the representation: the old ETag no longer matches.
    record_history(us_east, [(T0 + timedelta(minutes=9), payload(99.0))])
    changed = client.get("/api/v1/metrics/us-east", HTTP_IF_NONE_MATCH=etag, **bearer(token))
    assert changed.status_code == 200
    assert changed.json()["metrics"]["cpu_load"] == 99.0
    assert changed["ETag"] != etag
    index = client.get("/api/v1/metrics", **bearer(token))
    assert client.get("/api/v1/metrics", HTTP_IF_NONE_MATCH=index["ETag"], **bearer(token)).status_code == 304


def test_it_pages_history_newest_first_with_a_cursor(client: Client, token: str, us_east: Any) -> None:
    first = client.get("/api/v1/metrics/us-east/history?limit=2", **bearer(token)).json()
    assert [e["metrics"]["cpu_load"] for e in first["entries"]] == [14.0, 13.0]
    assert first["next_cursor"]
    assert first["next"].startswith("/api/v1/metrics/us-east/history?")
    second = client.get(first["next"], **bearer(token)).json()
    assert [e["metrics"]["cpu_load"] for e in second["entries"]] == [12.0, 11.0]
    third = client.get(second["next"], **bearer(token)).json()
    assert [e["metrics"]["cpu_load"] for e in third["entries"]] == [10.0]
    assert third["next_cursor"] is None
    assert third["next"] is None


def test_it_limits_history_to_a_time_range(client: Client, token: str, us_east: Any) -> None:
    start, end = iso(T0 + timedelta(minutes=1)), iso(T0 + timedelta(minutes=3))
    body = client.get(f"/api/v1/metrics/us-east/history?from={start}&to={end}", **bearer(token)).json()
    # Half-open like the store: ``from`` included, ``to`` excluded, so consecutive ranges never overlap.
    assert [e["metrics"]["cpu_load"] for e in body["entries"]] == [12.0, 11.0]
    epoch = int((T0 + timedelta(minutes=3)).timestamp())
    body = client.get(f"/api/v1/metrics/us-east/history?from={epoch}", **bearer(token)).json()
    assert [e["metrics"]["cpu_load"] for e in body["entries"]] == [14.0, 13.0]


def test_it_refuses_a_bad_cursor(client: Client, token: str, us_east: Any) -> None:
    error = assert_error(client.get("/api/v1/metrics/us-east/history?cursor=garbage", **bearer(token)), 400)
    assert "cursor" in error["details"]["fields"]


def test_it_lists_the_stored_field_level_changes(client: Client, token: str, us_east: Any) -> None:
    body = client.get("/api/v1/metrics/us-east/changes?limit=1", **bearer(token)).json()
    [entry] = body["entries"]
    changes = {c["path"]: c for c in entry["changes"]}
    assert changes["results.stats.server.cpu_load"]["old"] == 13.0
    assert changes["results.stats.server.cpu_load"]["new"] == 14.0
    assert changes["results.stats.server.cpu_load"]["kind"] == "changed"
    assert body["next_cursor"]


def test_it_computes_series_buckets(client: Client, token: str, us_east: Any) -> None:
    start, end = iso(T0), iso(T0 + timedelta(minutes=10))
    url = f"/api/v1/metrics/us-east/series?metric=cpu_load&from={start}&to={end}&bucket=5m"
    body = client.get(url, **bearer(token)).json()
    assert body["bucket"] == "5m"
    [bucket] = body["buckets"]
    assert bucket["start"] == iso(T0)
    assert (bucket["min"], bucket["max"], bucket["count"]) == (10.0, 14.0, 5)
    assert bucket["avg"] == pytest.approx(12.0)


def test_it_leaves_out_a_series_bucket_whose_values_sum_beyond_a_float(client: Client, token: str) -> None:
    # On PostgreSQL the bucket's float8 average raised "value out of range: overflow": the series was a 503.
    source = make_source("us-east")
    record_history(source, [(T0 + timedelta(seconds=s), payload(v)) for s, v in ((0, 1e308), (5, 1.5e308), (300, 7.0))])
    url = (
        f"/api/v1/metrics/us-east/series?metric=cpu_load&from={iso(T0)}&to={iso(T0 + timedelta(minutes=10))}&bucket=5m"
    )
    response = client.get(url, **bearer(token))
    assert response.status_code == 200
    assert [(b["start"], b["avg"], b["count"]) for b in response.json()["buckets"]] == [
        (iso(T0 + timedelta(minutes=5)), 7.0, 1)
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("metric=nope", "metric"),
        ("metric=cpu_load&from=now-2h&range=1h", "range"),
        ("metric=cpu_load&range=1y", "range"),
        ("metric=cpu_load&range=0h", "range"),
        ("metric=cpu_load&from=now-1x", "from"),
        ("metric=cpu_load&bucket=7m", "bucket"),
        ("metric=cpu_load&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("metric=cpu_load&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=1m", "bucket"),
        ("metric=cpu_load&to=soon", "to"),
        ("metric=cpu_load&from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("metric=cpu_load&to=0001-01-01T00:00:00Z", "to"),
    ],
)
def test_it_refuses_bad_series_parameters(client: Client, token: str, us_east: Any, query: str, field: str) -> None:
    error = assert_error(client.get(f"/api/v1/metrics/us-east/series?{query}", **bearer(token)), 400)
    assert field in error["details"]["fields"], error


def test_it_deletes_a_source_with_its_stored_metrics(client: Client, us_east: Any) -> None:
    admin = make_token("admin", role="admin")
    assert get_store().latest("us-east") is not None
    response = client.delete("/api/v1/sources/us-east", **bearer(admin))
    assert response.status_code == 204
    assert not Source.objects.filter(slug="us-east").exists()
    assert get_store().latest("us-east") is None
    assert get_store().history("us-east").entries == []
    assert_error(client.get("/api/v1/metrics/us-east", **bearer(admin)), 404)


def test_it_matches_the_documented_schemas(client: Client, token: str, us_east: Any) -> None:
    for path, name in [
        ("/api/v1/metrics", "SnapshotIndex"),
        ("/api/v1/metrics?payload=true", "SnapshotIndex"),
        ("/api/v1/metrics/us-east", "Snapshot"),
        ("/api/v1/metrics/us-east/history?limit=2", "HistoryPage"),
        ("/api/v1/metrics/us-east/changes", "ChangesPage"),
        ("/api/v1/metrics/us-east/series?metric=online", "Series"),
    ]:
        response = client.get(path, **bearer(token))
        assert response.status_code == 200, path
        assert_matches_schema(response.json(), name)


def test_it_answers_503_when_the_metric_store_is_down(client: Client, token: str, settings: Any) -> None:
    from tests.services import free_port

    make_source("us-east")
    settings.METRIC_STORE = "mongodb"
    settings.MONGODB_URL = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS = 300
    get_store.cache_clear()
    try:
        latest = client.get("/api/v1/metrics/us-east", **bearer(token))
        export = client.get("/api/v1/export/us-east", **bearer(token))
    finally:
        get_store.cache_clear()
    for response in (latest, export):
        error = assert_error(response, 503, "store_unavailable")
        assert response["Retry-After"]
        assert error["details"]["request_id"] == response["X-Request-ID"]
        assert "127.0.0.1" not in response.content.decode()
