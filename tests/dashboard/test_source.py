"""The source drill-down: payload laid out, series for the charts, the changes feed, raw JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from pollers.models import PollFailure
from tests.factories import (
    KNOWN_PAYLOAD,
    UNVERIFIED_API_KEY,
    make_source,
    make_source_sending_credentials_unverified,
    member,
    payload,
    record,
)

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_it_lays_out_the_payload_for_people(user_client: Client) -> None:
    record(make_source("us-east"), payload(), timezone.now())
    response = user_client.get("/sources/us-east/")
    assert response.status_code == 200
    html = response.content.decode()
    page = text(html)
    # Workers table from the [name, stats] pairs.
    rows = re.findall(r"<tr>\s*<th scope=\"row\">([^<]+)</th>(.*?)</tr>", html, re.S)
    assert [name for name, _ in rows] == ["api-handler-1", "cache-sync-2"]
    first = text(rows[0][1])
    assert "6 2 1 120 ms 340 ms" in first
    assert "key_ab12cd" in first
    assert "top_x1y2 44" in first
    # Sections with units.
    assert "p95 410 ms" in page
    assert "Error rate 0.80 %" in page
    assert "Build status success" in page
    assert "Available 2,890 MB" in page
    assert "Disk used 58.3 %" in page
    assert "Bytes in 150 kB/s" in page
    assert "Threat level low" in page
    assert "Warning alerts 2" in page
    # Key numbers, status and services.
    assert "CPU load 41.7 %" in page
    assert "redis up" in page
    # Raw JSON one click away, escaped.
    assert '<details class="raw">' in html
    assert "&quot;cpu_load&quot;: 41.7" in html
    assert 'href="/sources/us-east/latest.json"' in html


def test_it_decodes_and_shows_the_server_issue(user_client: Client) -> None:
    issue = {"type": "DatabaseError", "message": "connection refused", "code": "DB_CONN", "affectedServices": ["api"]}
    record(make_source("eu-west"), payload(status="error", server_issue=json.dumps(issue)), timezone.now())
    page = text(user_client.get("/sources/eu-west/").content.decode())
    assert "Server issue: DatabaseError DB_CONN connection refused" in page
    assert "Affected: api" in page


def test_it_lists_what_changed_newest_first_with_field_diffs(user_client: Client) -> None:
    source = make_source("us-east")
    now = timezone.now()
    record(source, payload(), now - timedelta(minutes=2))
    record(source, payload(**{"results.services.redis": False}), now - timedelta(minutes=1))
    record(source, payload(**{"results.services.redis": True, "version": "v2.5.0"}), now)
    html = user_client.get("/sources/us-east/").content.decode()
    changes = html[html.index('id="h-changes"') :]
    entries = re.findall(r'<li class="change">(.*?)</li>\s*(?=<li class="change">|</ol>)', changes, re.S)
    assert len(entries) == 3
    newest, middle, oldest = (text(e) for e in entries)
    assert "#3" in newest
    assert "results.services.redis false → true" in newest
    assert 'version "v2.4.1" → "v2.5.0"' in newest
    assert "#2" in middle
    assert "results.services.redis true → false" in middle
    assert '<span class="diff-old">&quot;v2.4.1&quot;</span>' in changes
    assert "First snapshot recorded." in oldest


def test_it_pages_through_changes_with_a_cursor_and_refuses_a_bad_one(user_client: Client) -> None:
    source = make_source("us-east")
    start = timezone.now() - timedelta(hours=1)
    for i in range(30):
        record(source, payload(**{"results.stats.online": i}), start + timedelta(seconds=30 * i))
    first = user_client.get("/sources/us-east/changes/").content.decode()
    assert first.count('<li class="change">') == 25
    cursor = re.search(r'href="\?cursor=([^"]+)" rel="next"', first)
    assert cursor
    second = user_client.get(f"/sources/us-east/changes/?cursor={cursor.group(1)}").content.decode()
    assert second.count('<li class="change">') == 5
    assert 'rel="next"' not in second
    assert "Newest" in second

    response = user_client.get("/sources/us-east/changes/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "That page of changes does not exist" in response.content.decode()


def test_it_serves_series_for_the_charts_from_the_store(user_client: Client) -> None:
    source = make_source("us-east")
    now = timezone.now()
    for minutes, load in ((50, 10.0), (20, 30.0), (5, 50.0)):
        record(source, payload(**{"results.stats.server.cpu_load": load}), now - timedelta(minutes=minutes))
    body = user_client.get("/sources/us-east/series.json?range=1h&metric=cpu_load").json()
    assert body["range"] == "1h"
    assert body["bucket_seconds"] == 15
    cpu = body["metrics"]["cpu_load"]
    assert cpu["label"] == "CPU load"
    assert cpu["unit"] == "%"
    assert [p[2] for p in cpu["points"]] == [10.0, 30.0, 50.0]
    assert all(p[4] == 1 for p in cpu["points"])

    body = user_client.get("/sources/us-east/series.json?range=7d").json()
    assert body["bucket_seconds"] == 3600
    assert "service_redis_up" in body["metrics"]
    assert "wait_time" in body["metrics"]

    start = (now - timedelta(minutes=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    body = user_client.get(f"/sources/us-east/series.json?start={start}&metric=cpu_load").json()
    assert body["range"] == "custom"
    assert [p[2] for p in body["metrics"]["cpu_load"]["points"]] == [30.0, 50.0]

    relative = user_client.get("/sources/us-east/series.json?start=now-30m&metric=cpu_load").json()
    assert relative["range"] == "custom"
    assert [p[2] for p in relative["metrics"]["cpu_load"]["points"]] == [30.0, 50.0]


def test_it_leaves_out_of_the_charts_a_bucket_whose_values_sum_beyond_a_float(user_client: Client) -> None:
    # Two loads near 1e308 in one 15-second bucket: PostgreSQL raised "value out of range: overflow" on the
    # bucket's average (the chart was an error), SQLite's was inf; left out, as the rollups leave it out.
    source = make_source("us-east")
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=30)
    start -= timedelta(seconds=start.second % 15)
    for seconds, load in ((0, 1e308), (5, 1.5e308), (60, 10.0), (65, 20.0)):
        record(source, payload(**{"results.stats.server.cpu_load": load}), start + timedelta(seconds=seconds))
    response = user_client.get("/sources/us-east/series.json?range=1h&metric=cpu_load")
    assert response.status_code == 200
    assert [p[1:] for p in response.json()["metrics"]["cpu_load"]["points"]] == [[10.0, 15.0, 20.0, 2]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("range=2w", "range: expected one of 1h, 6h, 24h, 7d"),
        ("start=yesterday", "start: expected an ISO 8601 date and time or now-1h"),
        ("start=now-1y", "start: expected an ISO 8601 date and time or now-1h"),
        ("start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "end: must be after start"),
        ("start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", "at most 400 days"),
        ("metric=nope", "metric: unknown metric 'nope'"),
        # In year 0 in UTC (was a 500: OverflowError in the store's conversion).
        ("start=0001-01-01T00:00:00%2B14:00&end=0001-01-02T00:00:00%2B14:00", "outside the years 1 to 9999 in UTC"),
    ],
)
def test_it_refuses_bad_series_parameters_clearly(user_client: Client, query: str, message: str) -> None:
    record(make_source("us-east"), payload(), timezone.now())
    response = user_client.get(f"/sources/us-east/series.json?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_it_answers_404_for_unknown_sources(user_client: Client) -> None:
    assert user_client.get("/sources/nowhere/").status_code == 404
    assert user_client.get("/sources/nowhere/series.json").status_code == 404
    assert user_client.get("/sources/nowhere/latest.json").status_code == 404


def test_it_serves_the_raw_latest_payload(user_client: Client) -> None:
    source = make_source("us-east")
    assert user_client.get("/sources/us-east/latest.json").status_code == 404
    record(source, payload(), datetime.now(tz=UTC))
    response = user_client.get("/sources/us-east/latest.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content) == KNOWN_PAYLOAD


def test_it_shows_poll_health_and_never_header_secrets_or_url_credentials(user_client: Client) -> None:
    source = make_source(
        "us-east",
        url="https://bob:hunter2@status.example.com/status?token=s3cr3t",
        headers={"Authorization": "Bearer top-secret-value", "X-Team": "core"},
        consecutive_failures=3,
        last_error_kind="timeout",
        last_error_message="read timed out after 10.0 s",
        last_error_at=timezone.now(),
        last_latency_ms=123.4,
        circuit_state="half_open",
    )
    record(source, payload(), timezone.now())
    html = user_client.get("/sources/us-east/").content.decode()
    page = text(html)
    assert "Circuit Half-open" in page
    assert "Last latency 123 ms" in page
    assert "Consecutive failures 3" in page
    assert "timeout" in page
    assert "read timed out after 10.0 s" in page
    assert "unreachable" in html
    for secret in ("hunter2", "s3cr3t", "top-secret-value", "bob:"):
        assert secret not in html
    assert "https://status.example.com/status?…" in page
    assert "Authorization ••••••" in page
    assert "X-Team core" in page


def test_it_renders_a_source_that_has_no_data_yet(user_client: Client) -> None:
    make_source("us-east", last_polled_at=timezone.now() - timedelta(minutes=5))
    response = user_client.get("/sources/us-east/")
    assert response.status_code == 200
    page = text(response.content.decode())
    assert "no data yet" in page
    assert "No changes recorded yet." in page


def test_it_renders_a_new_source_waiting_for_its_first_poll(user_client: Client) -> None:
    make_source("us-east")
    page = text(user_client.get("/sources/us-east/").content.decode())
    assert "Waiting" in page
    assert "waiting for first poll" in page
    assert "No changes recorded yet." in page


def test_it_lists_recent_failed_polls_newest_first_in_one_query(user_client: Client) -> None:
    source = make_source("us-east")
    other = make_source("eu-west")
    now = timezone.now()
    PollFailure.record(
        source, occurred_at=now - timedelta(minutes=5), kind="timeout", message="read timed out after 10.0 s"
    )
    PollFailure.record(
        source, occurred_at=now - timedelta(minutes=1), kind="http_503", message="HTTP 503 <b>busy</b>", status_code=503
    )
    PollFailure.record(other, occurred_at=now, kind="not_json", message="not from this source")

    with CaptureQueriesContext(connection) as queries:
        html = user_client.get("/sources/us-east/").content.decode()
    failure_queries = [q["sql"] for q in queries.captured_queries if "pollfailure" in q["sql"].lower()]
    assert len(failure_queries) == 1

    table = re.search(r'<table class="table failures">(.*?)</table>', html, re.S)
    assert table is not None
    rows = [text(row).strip() for row in re.findall(r"<tr data-failure-kind[^>]*>(.*?)</tr>", table.group(1), re.S)]
    assert len(rows) == 2
    assert rows[0].startswith((now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"))
    assert "http_503 HTTP 503 <b>busy</b> 503" in rows[0]  # the message is escaped, not markup
    assert "timeout read timed out after 10.0 s —" in rows[1]
    assert "<b>busy</b>" not in html
    assert "not from this source" not in html
    assert "No failed polls recorded." not in text(html)


def test_it_says_when_no_failed_poll_is_recorded(user_client: Client) -> None:
    make_source("us-east")
    page = text(user_client.get("/sources/us-east/").content.decode())
    assert "Recent failed polls No failed polls recorded." in page


def test_it_points_a_source_without_metrics_at_its_edit_form(client: Client) -> None:
    # It said "Add metric paths in the admin", which a team admin who is not staff cannot open; Edit is beside it.
    make_source("billing", metric_paths={})

    def note() -> str:
        page = client.get("/sources/billing/").content.decode()
        found = re.search(r'<p class="muted" id="no-metrics">(.*?)</p>', page)
        assert found, "the note is there"
        return found.group(1)

    member(client, role=Role.VIEWER, username="reader")
    assert text(note()) == "This source extracts no metrics. An admin of its team adds metric paths to chart them."
    member(client, role=Role.ADMIN, username="lead")  # an admin of the team, not staff
    assert '<a href="/sources/billing/edit/">Add metric paths</a> to chart them.' in note()


def test_it_warns_of_credentials_the_source_sends_insecurely_and_how_to_fix_or_acknowledge(
    client: Client, lan_host: str
) -> None:
    make_source_sending_credentials_unverified("us-east", lan_host)
    make_source_sending_credentials_unverified("eu-west", lan_host, insecure_credentials_acknowledged=True)
    viewer = member(client, role=Role.VIEWER, username="grace")

    html = viewer.get("/sources/us-east/").content.decode()
    page = text(unescape(html))
    assert "This source sends credentials that anyone on the network path could read" in page
    # What is sent and why, by the field to change: the model's own messages.
    assert "The URL is plain http while the source sends the header X-Api-Key: anyone on the network path" in page
    assert "Verification is off while the source sends the header X-Api-Key: anyone on the network path" in page
    assert "its next edit is refused until it is secured or the risk is acknowledged" in page
    assert "PATCH /api/v1/sources/us-east ( tls_verify , insecure_credentials_acknowledged )" in page
    assert 'href="/sources/us-east/edit/"' not in html, "a viewer cannot edit it"
    assert UNVERIFIED_API_KEY not in html
    assert 'data-role="credentials-unverified"' not in viewer.get("/sources/eu-west/").content.decode()

    admin = member(Client(), role=Role.ADMIN, username="ops")
    warning = admin.get("/sources/us-east/").content.decode().split('data-role="credentials-unverified"')[1]
    assert 'An https URL goes in <a href="/sources/us-east/edit/">its form</a>' in warning
