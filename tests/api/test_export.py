"""/api/v1/export/<slug>: CSV or NDJSON streamed page by page, in bounded memory however long the range."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from tests.api.support import assert_error, payload
from tests.factories import bearer, make_source, make_token, record_history

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def body_of(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def test_it_exports_csv_newest_first_with_one_column_per_metric(client: Client) -> None:
    source = make_source(
        "us-east", metric_paths={"cpu_load": "results.stats.server.cpu_load", "online": "results.stats.online"}
    )
    record_history(source, [(T0 + timedelta(minutes=i), payload(10.0 + i, online=i)) for i in range(3)])
    response = client.get("/api/v1/export/us-east?format=csv", **bearer(make_token()))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="us-east-history.csv"'
    rows = list(csv.reader(io.StringIO(body_of(response))))
    assert rows[0] == ["fetched_at", "sequence", "hash", "cpu_load", "online"]
    assert [row[3] for row in rows[1:]] == ["12", "11", "10"]  # whole numbers as integers
    assert rows[1][0] == "2026-01-10T12:02:00Z"


def test_it_exports_ndjson_in_a_range(client: Client, settings: Any) -> None:
    settings.API_EXPORT_PAGE_SIZE = 10  # several pages, so the cursor walk is exercised
    source = make_source("us-east")
    record_history(source, [(T0 + timedelta(minutes=i), payload(float(i))) for i in range(35)])
    start, end = "2026-01-10T12:05:00Z", "2026-01-10T12:29:00Z"
    response = client.get(f"/api/v1/export/us-east?format=ndjson&from={start}&to={end}", **bearer(make_token()))
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in body_of(response).splitlines()]
    assert [line["metrics"]["cpu_load"] for line in lines] == [float(i) for i in range(28, 4, -1)]
    assert lines[0]["payload"]["results"]["stats"]["server"]["cpu_load"] == 28.0


def test_it_refuses_bad_export_parameters(client: Client) -> None:
    make_source("us-east")
    token = make_token()
    error = assert_error(client.get("/api/v1/export/us-east?format=xml", **bearer(token)), 400)
    assert "format" in error["details"]["fields"]
    assert_error(client.get("/api/v1/export/us-east?from=2026-02-01&to=2026-01-01", **bearer(token)), 400)
    assert_error(client.get("/api/v1/export/nope", **bearer(token)), 404)
    assert_error(client.get("/api/v1/export/us-east"), 401)


def export_peak(client: Client, token: str, query: str) -> tuple[int, int, int]:
    """(peak traced bytes, bytes streamed, lines) for one export, consumed chunk by chunk as a server would."""
    tracemalloc.start()
    try:
        response = client.get(f"/api/v1/export/us-east?format=ndjson{query}", **bearer(token))
        total = lines = 0
        for chunk in response.streaming_content:
            total += len(chunk)
            lines += chunk.count(b"\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, total, lines


def test_it_streams_a_large_range_in_bounded_memory(client: Client, settings: Any) -> None:
    settings.API_EXPORT_PAGE_SIZE = 25
    source = make_source("us-east")
    padding = "x" * 3000  # ~10 KB per exported line (payload and diff): the export is far larger than a page
    points = []
    for i in range(2500):
        body = payload(float(i))
        body["notes"] = f"{i}{padding}"
        points.append((T0 + timedelta(seconds=10 * i), body))
    record_history(source, points)
    token = make_token()
    export_peak(client, token, "&to=2026-01-10T12:00:10Z")  # warm-up: first-request allocations are not the export's

    # A tenth of the range, then all of it: memory must not grow with the range.
    small_peak, _small_total, small_lines = export_peak(client, token, "&to=2026-01-10T12:41:40Z")
    peak, total, lines = export_peak(client, token, "")
    assert (small_lines, lines) == (250, 2500)
    assert total > 20_000_000
    assert peak < total / 10, f"peak {peak} bytes for a {total}-byte export"
    assert peak < small_peak * 1.5 + 256 * 1024, f"peak {peak} for 2500 entries vs {small_peak} for 250"


@pytest.mark.django_db(transaction=True)
async def test_it_streams_in_bounded_memory_under_asgi(async_client: Any, settings: Any) -> None:
    """Daphne serves the app over ASGI, where Django reads a sync iterator whole: the export must not."""
    from asgiref.sync import sync_to_async

    settings.API_EXPORT_PAGE_SIZE = 25

    def setup() -> str:
        source = make_source("us-east")
        padding = "x" * 3000
        points = []
        for i in range(1500):
            body = payload(float(i))
            body["notes"] = f"{i}{padding}"
            points.append((T0 + timedelta(seconds=10 * i), body))
        record_history(source, points)
        return make_token()

    token = await sync_to_async(setup)()
    headers = {"Authorization": f"Bearer {token}"}
    tracemalloc.start()
    try:
        response = await async_client.get("/api/v1/export/us-east?format=ndjson", headers=headers)
        total = lines = 0
        async for chunk in response:  # what the ASGI handler does to send the body
            total += len(chunk)
            lines += chunk.count(b"\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    assert lines == 1500
    assert total > 12_000_000
    assert peak < total / 8, f"peak {peak} bytes for a {total}-byte export"
