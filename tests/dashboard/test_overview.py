"""The overview page: numbers from a known snapshot, statuses, filters, and one store read for all cards."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.views import overview as overview_view
from metrics.stores import get_store
from metrics.stores.base import MetricStore
from tests.factories import make_source, payload, record

pytestmark = pytest.mark.django_db


def card_html(html: str, slug: str) -> str:
    match = re.search(rf'<article class="card[^"]*" data-source="{re.escape(slug)}".*?</article>', html, re.S)
    assert match, f"no card for {slug}"
    return match.group(0)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class CountingStore:
    """The real store, counting which reads the view makes (a spy around it, not a stand-in)."""

    def __init__(self, inner: MetricStore) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return target(*args, **kwargs)

        return call


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> CountingStore:
    """The overview views' store, counting its reads."""
    counting = CountingStore(get_store())
    monkeypatch.setattr(overview_view, "get_store", lambda: counting)
    return counting


def test_it_renders_the_key_numbers_with_units_from_the_latest_snapshot(user_client: Client) -> None:
    source = make_source("us-east", tags=["prod"])
    recorded_at = timezone.now()
    record(source, payload(), recorded_at)

    response = user_client.get("/")
    answered_at = timezone.now()
    assert response.status_code == 200
    card = text(card_html(response.content.decode(), "us-east"))
    assert "CPU load 41.7 %" in card
    assert "Connections 9,876" in card
    assert "Wait time 63 ms" in card
    assert "Online users 57" in card
    assert "Sessions 412" in card
    assert "Timers 12" in card
    assert "Servers 3" in card
    assert "database up" in card
    assert "redis up" in card
    assert "0 critical 2 warning 5 info" in card
    assert "Build success" in card
    assert "v2.4.1" in card
    assert "OK" in card
    # The age is the snapshot's, as of rendering: somewhere between 0 and the time the request took.
    age = re.search(r"Updated (\d+) s ago", card)
    assert age is not None, card
    assert 0 <= int(age.group(1)) <= (answered_at - recorded_at).total_seconds() + 1


def test_it_shows_seconds_for_waits_of_a_second_or_more(user_client: Client) -> None:
    source = make_source("eu-west")
    record(source, payload(**{"results.stats.server.wait_time": 4250}), timezone.now())
    card = text(card_html(user_client.get("/").content.decode(), "eu-west"))
    assert "Wait time 4.25 s" in card


@pytest.mark.parametrize(
    ("changes", "source_fields", "age", "status", "reason"),
    [
        ({}, {}, 5, "ok", "all checks pass"),
        ({"status": "error", "results.services.redis": False}, {}, 5, "error", "source reports status"),
        ({"results.services.database": False}, {}, 5, "degraded", "database down"),
        ({}, {"alert_state": "critical"}, 5, "error", "critical alert firing"),
        ({}, {"alert_state": "degraded"}, 5, "degraded", "warning alert firing"),
        ({}, {}, 61, "stale", "no fresh data for 61 s"),
        ({}, {"consecutive_failures": 2, "last_error_kind": "http_503"}, 5, "unreachable", "last 2 polls failed"),
        ({}, {"circuit_state": "open", "consecutive_failures": 5}, 5, "unreachable", "circuit open"),
    ],
)
def test_it_derives_the_card_status(  # type: ignore[no-untyped-def]
    user_client: Client, changes, source_fields, age, status, reason
) -> None:
    now = timezone.now()
    if source_fields.get("consecutive_failures"):
        source_fields = {**source_fields, "last_error_at": now, "last_success_at": now - timedelta(minutes=1)}
    source = make_source("sa-east", **source_fields)
    record(source, payload(**changes), now - timedelta(seconds=age))
    html = card_html(user_client.get("/").content.decode(), "sa-east")
    assert f'data-status="{status}"' in html
    assert reason in text(html)


def test_it_calls_a_polled_source_with_no_data_stale(user_client: Client) -> None:
    make_source("ap-southeast", last_polled_at=timezone.now() - timedelta(minutes=5))
    html = card_html(user_client.get("/").content.decode(), "ap-southeast")
    assert 'data-status="stale"' in html
    assert "No data received yet." in html


def test_it_says_a_new_source_waits_for_its_first_poll(user_client: Client) -> None:
    make_source("ap-southeast")
    html = card_html(user_client.get("/").content.decode(), "ap-southeast")
    assert 'data-status="waiting"' in html
    assert "waiting for first poll" in text(html)
    assert "No data received yet." in html


def test_it_does_not_call_a_document_without_numbers_no_data(user_client: Client) -> None:
    # A plain health endpoint ({"status": "UP"}) polled fine: its card said "No data received yet."
    # beside "all checks pass" and "Updated 0 s ago".
    source = make_source("ap-southeast")
    record(source, {"status": "UP"}, timezone.now())
    html = card_html(user_client.get("/").content.decode(), "ap-southeast")
    assert 'data-status="ok"' in html
    assert "No data received yet." not in html
    assert "No numbers in the latest document: check the source's metric paths." in html


def test_it_reads_the_store_once_and_keeps_queries_constant_however_many_sources(
    user_client: Client, spy: CountingStore
) -> None:
    now = timezone.now()
    for slug in ("r1", "r2", "r3"):
        record(make_source(slug), payload(), now)
    user_client.get("/")  # warm the session and user caches of this client
    with CaptureQueriesContext(connection) as three:
        assert user_client.get("/").status_code == 200
    assert spy.calls == ["latest_of", "latest_of"]

    for slug in ("r4", "r5", "r6", "r7", "r8", "r9"):
        record(make_source(slug), payload(), now)
    spy.calls.clear()
    with CaptureQueriesContext(connection) as nine:
        response = user_client.get("/")
    assert response.content.decode().count('<article class="card') == 9
    assert spy.calls == ["latest_of"]
    assert len(nine.captured_queries) == len(three.captured_queries)
    assert len(nine.captured_queries) <= 8


def test_it_hides_cards_that_do_not_match_the_filters_and_counts_statuses(user_client: Client) -> None:
    now = timezone.now()
    record(make_source("good", tags=["prod"]), payload(), now)
    record(make_source("bad", tags=["prod"]), payload(status="error"), now)
    record(make_source("other", tags=["lab"]), payload(), now)

    html = user_client.get("/?status=error").content.decode()
    assert " hidden>" not in card_html(html, "bad")
    assert card_html(html, "good").split(">", 1)[0].endswith(" hidden")
    assert card_html(html, "other").split(">", 1)[0].endswith(" hidden")
    assert re.search(r'data-count-for="error"><span class="chip-n">1</span>', html)
    assert re.search(r'data-count-for="ok"><span class="chip-n">2</span>', html)
    # A region whose every card is filtered out hides its heading too.
    assert {
        name: bool(flag)
        for flag, name in re.findall(
            r'<section class="group"[^>]*?( hidden)?>\s*<h2 class="group-title"[^>]*>(\w+)', html
        )
    } == {"bad": False, "good": True, "other": True}

    html = user_client.get("/?tag=lab").content.decode()
    assert not card_html(html, "other").split(">", 1)[0].endswith(" hidden")
    assert card_html(html, "good").split(">", 1)[0].endswith(" hidden")


def test_it_sorts_by_status_or_name_and_groups_by_region_or_tag(user_client: Client) -> None:
    now = timezone.now()
    record(make_source("alpha", region="eu", tags=["prod", "edge"]), payload(), now)
    record(make_source("bravo", region="eu", tags=["prod"]), payload(status="error"), now)
    record(make_source("charlie", region="us"), payload(), now)

    html = user_client.get("/?sort=status").content.decode()
    assert html.index('data-source="bravo"') < html.index('data-source="alpha"')
    html = user_client.get("/?sort=name").content.decode()
    assert html.index('data-source="alpha"') < html.index('data-source="bravo"')
    groups = re.findall(r'class="group-title"[^>]*>([^<]+)<', html)
    assert [g.strip() for g in groups] == ["eu", "us"]

    html = user_client.get("/?group=tag&sort=name").content.decode()
    groups = [g.strip() for g in re.findall(r'class="group-title"[^>]*>([^<]+)<', html)]
    assert groups == ["edge", "prod", "Untagged"]
    assert html.count('data-source="alpha"') == 2  # under each of its tags


def test_it_ignores_unknown_filter_values(user_client: Client) -> None:
    record(make_source("alpha"), payload(), timezone.now())
    response = user_client.get("/?status=bogus&sort=%3Cscript%3E&group=nope")
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()
    assert " hidden>" not in card_html(response.content.decode(), "alpha")


def test_it_passes_page_data_to_scripts_without_inline_code(user_client: Client) -> None:
    record(make_source("alpha"), payload(), timezone.now())
    html = user_client.get("/").content.decode()
    assert '<script id="overview-config" type="application/json">' in html
    scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert scripts == []
    assert " style=" not in html
    assert " onclick=" not in html


def test_it_serves_fresh_card_markup_for_live_updates(user_client: Client, spy: CountingStore) -> None:
    now = timezone.now()
    source = make_source("us-east")
    record(source, payload(), now - timedelta(seconds=10))
    record(make_source("eu-west"), payload(), now)
    record(source, payload(**{"results.services.redis": False}), now)
    spy.calls.clear()

    body = user_client.get("/overview/cards.json?source=us-east").json()
    assert list(body["cards"]) == ["us-east"]
    card = body["cards"]["us-east"]
    assert card["status"] == "degraded"
    assert card["reason"] == "redis down"
    assert card["interval"] == 30
    assert 'redis <span class="svc-state">down</span>' in card["html"]
    assert card["last_seen"].startswith(now.isoformat()[:19])
    assert spy.calls == ["latest_of"]

    assert set(user_client.get("/overview/cards.json").json()["cards"]) == {"us-east", "eu-west"}


def test_it_names_the_sources_asked_for_that_are_no_longer_polled(user_client: Client) -> None:
    """A card the page asks about whose source was paused (or deleted, or another team's) comes back in ``gone``,
    so the page takes it away rather than ticking its age on under its last verdict."""
    now = timezone.now()
    record(make_source("us-east"), payload(), now)
    paused = make_source("eu-west")
    record(paused, payload(), now)
    paused.enabled = False
    paused.save()

    body = user_client.get("/overview/cards.json?source=us-east&source=eu-west&source=nowhere").json()
    assert list(body["cards"]) == ["us-east"]
    assert body["gone"] == ["eu-west", "nowhere"]
    assert user_client.get("/overview/cards.json").json()["gone"] == []


def test_it_serves_an_hour_of_sparkline_points(user_client: Client) -> None:
    now = timezone.now()
    source = make_source("us-east")
    for minutes, load in ((90, 99.0), (30, 20.0), (10, 40.0)):
        record(source, payload(**{"results.stats.server.cpu_load": load}), now - timedelta(minutes=minutes))
    body = user_client.get("/overview/sparklines.json").json()
    points = body["series"]["us-east"]["cpu_load"]
    assert [p[1] for p in points] == [20.0, 40.0]  # the one from 90 minutes ago is outside the hour
    assert body["series"]["us-east"]["wait_time"][0][1] == 63.0
    assert all(body["start"] <= p[0] <= body["end"] for p in points)


def test_it_reads_every_sparkline_in_one_store_read_per_batch(
    user_client: Client, spy: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now()
    for n, slug in enumerate(("r1", "r2", "r3")):
        record(make_source(slug), payload(**{"results.stats.server.cpu_load": 10.0 * (n + 1)}), now)
    body = user_client.get("/overview/sparklines.json").json()
    assert spy.calls == ["series_many"]  # 3 sources x 2 metrics, one read
    assert [body["series"][slug]["cpu_load"][0][1] for slug in ("r1", "r2", "r3")] == [10.0, 20.0, 30.0]

    monkeypatch.setattr(overview_view, "MAX_SERIES_KEYS", 4)  # 6 series: a batch of 4, then of 2
    spy.calls.clear()
    again = user_client.get("/overview/sparklines.json").json()
    assert spy.calls == ["series_many", "series_many"]
    assert again["series"] == body["series"]


def test_it_says_so_when_there_are_no_sources(user_client: Client) -> None:
    html = user_client.get("/").content.decode()
    assert "No sources yet" in html


def test_it_shows_a_source_of_another_shape_by_its_own_metrics(user_client: Client) -> None:
    source = make_source(
        "billing",
        metric_paths={"queue_depth": "queue.depth", "latency_ms": "latency_ms", "disk_pct": "disk.used_percent"},
    )
    record(
        source,
        {"status": "healthy", "queue": {"depth": 1200}, "latency_ms": 2500, "disk": {"used_percent": 71.5}},
        timezone.now(),
    )
    html = card_html(user_client.get("/").content.decode(), "billing")
    card = text(html)
    assert 'data-status="ok"' in html
    assert "Disk 71.5 %" in card
    assert "Latency 2.50 s" in card
    assert "Queue depth 1,200" in card
    assert "Build" not in card


def test_it_names_paused_sources_with_a_link_back_to_them(user_client: Client) -> None:
    # A paused source has no card: it used to leave the overview with no way back to its Resume button.
    record(make_source("eu-west"), payload(), timezone.now())
    make_source("us-east", name="Payments <US>", enabled=False)
    html = user_client.get("/").content.decode()
    assert 'data-source="us-east"' not in html, "no card: it is not polled"
    paused = re.search(r'<p class="paused-sources[^>]*>(.*?)</p>', html, re.S)
    assert paused, "the paused source is named"
    assert '<a href="/sources/us-east/">Payments &lt;US&gt;</a>' in paused.group(1)


def test_it_does_not_say_no_sources_when_every_source_is_paused(user_client: Client) -> None:
    make_source("us-east", enabled=False)
    html = user_client.get("/").content.decode()
    assert "No sources yet" not in html
    assert "No source is being polled" in html
    assert 'href="/sources/us-east/"' in html


def test_it_says_so_when_the_filters_hide_every_card(user_client: Client) -> None:
    # The "0 error" chip used to open a blank page: every card and group hidden, nothing said why.
    record(make_source("eu-west", tags=["prod"]), payload(), timezone.now())
    html = user_client.get("/?status=error").content.decode()
    assert re.search(r'<p class="empty-filter muted" data-role="no-match">No source matches these filters\.', html)
    assert 'href="/?group=region&amp;sort=status">Show every source</a>' in html
    html = user_client.get("/?tag=prod").content.decode()
    assert 'data-role="no-match" hidden>' in html, "rendered hidden, for the script to show when filters change"
