"""API ergonomics: relative times and ranges, numbers as people read them, the index at /api/v1/."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from metrics.relative_time import parse_duration, parse_relative
from metrics.serialization import average, number
from tests.factories import bearer, make_source, make_token, payload, record

pytestmark = pytest.mark.django_db


def test_it_reads_relative_times_and_durations() -> None:
    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert parse_relative("now", now) == now
    assert parse_relative("now-1h", now) == now - timedelta(hours=1)
    assert parse_relative("NOW+30m", now) == now + timedelta(minutes=30)
    assert parse_relative("2026-01-01", now) is None
    assert parse_duration("7d") == timedelta(days=7)
    for bad in ("0h", "1y", "h", "99999999d", "-1h"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_it_writes_whole_numbers_as_integers_and_rounds_averages() -> None:
    assert number(52592.0) == 52592
    assert isinstance(number(52592.0), int)
    assert number(0.1 + 0.2) == 0.3
    assert average(53.150000000000006) == 53.15
    assert average(2 / 3) == 0.666667
    assert number(1e300) == 1e300
    assert isinstance(number(1e300), float)
    assert number(None) is None
    assert number(float("inf")) == float("inf")


@pytest.fixture
def history(client: Client) -> tuple[Client, str]:
    source = make_source("us-east")
    now = timezone.now()
    for minutes, cpu in ((90, 10.0), (50, 53.1), (20, 53.2), (5, 1.0)):
        doc = payload(
            **{"results.stats.server.cpu_load": cpu, "results.stats.server.active_connections": 52592 + minutes}
        )
        record(source, doc, now - timedelta(minutes=minutes))
    return client, make_token()


def test_it_takes_now_minus_and_range_wherever_from_is_taken(history: tuple[Client, str]) -> None:
    client, token = history
    relative = client.get("/api/v1/metrics/us-east/history?from=now-1h", **bearer(token)).json()
    ranged = client.get("/api/v1/metrics/us-east/history?range=1h", **bearer(token)).json()
    assert len(relative["entries"]) == len(ranged["entries"]) == 3
    series = client.get("/api/v1/metrics/us-east/series?metric=cpu_load&range=1h&bucket=1h", **bearer(token)).json()
    assert sum(b["count"] for b in series["buckets"]) == 3
    export = client.get("/api/v1/export/us-east?range=1h", **bearer(token))
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(rows) == 4


def test_it_rounds_numbers_in_json_and_csv(history: tuple[Client, str]) -> None:
    client, token = history
    body = client.get("/api/v1/metrics/us-east/series?metric=cpu_load&from=now-1h&bucket=1h", **bearer(token)).json()
    averages = [b["avg"] for b in body["buckets"]]
    assert all(len(repr(a)) <= 9 for a in averages), averages
    latest = client.get("/api/v1/metrics/us-east", **bearer(token)).json()
    assert latest["metrics"]["active_connections"] == 52597
    assert '"active_connections":52597,' in client.get("/api/v1/metrics/us-east", **bearer(token)).content.decode()
    export = client.get("/api/v1/export/us-east", **bearer(token))
    text = b"".join(export.streaming_content).decode()
    assert "52597.0" not in text
    assert "52597" in text


def test_it_picks_the_first_metric_when_series_names_none(history: tuple[Client, str]) -> None:
    client, token = history
    body = client.get("/api/v1/metrics/us-east/series?range=24h", **bearer(token)).json()
    source = make_source.__globals__["Source"].objects.get(slug="us-east")
    assert body["metric"] == sorted(source.metric_paths)[0]
    assert body["buckets"], "the default metric's data, not an empty answer"


def test_it_answers_the_index_with_links(client: Client) -> None:
    body: dict[str, Any] = client.get("/api/v1/").json()
    assert body["docs"] == "/api/v1/docs"
    assert body["openapi"] == "/api/v1/openapi.json"
    paths = {(e["method"], e["path"]) for e in body["endpoints"]}
    assert ("GET", "/api/v1/metrics/{slug}/series") in paths
    assert ("GET", "/api/v1/sources") in paths
    assert client.get(body["docs"]).status_code == 200
    assert client.get(body["openapi"]).status_code == 200
