"""One truth per page (issue 16): the drill-down's parts come from one read, poll health keeps the last
attempt apart from the last good content, stale numbers say "last known, down since", and a page-wide
banner says when no poller runs or the store is down."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from pymongo import MongoClient

from dashboard import system_state
from metrics.stores.mongo import MongoMetricStore
from pollers.models import PollerProcess
from tests import services
from tests.factories import make_source, payload, record

pytestmark = pytest.mark.django_db

ISSUE = json.dumps(
    {"type": "redis_unavailable", "code": "E_REDIS", "message": "redis down", "affectedServices": ["redis"]}
)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def failing_payload() -> dict[str, Any]:
    return payload(**{"status": "error", "server_issue": ISSUE, "results.services.redis": False})


def pill(html: str) -> str:
    match = re.search(r'class="pill pill-(\w+)" data-role="status">([^<]+)<', html)
    assert match, html[:400]
    return match.group(2)


def test_it_renders_every_part_of_the_drill_down_from_one_read_so_they_agree(user_client: Client) -> None:
    source = make_source("us-east")
    now = timezone.now()
    record(source, payload(), now - timedelta(seconds=20))
    healthy = user_client.get("/sources/us-east/parts.json").json()
    assert healthy["status"] == "ok"
    assert pill(healthy["parts"]["head"]) == "OK"
    assert healthy["parts"]["issue"].strip() == ""
    assert "redis up" in text(healthy["parts"]["now"])

    # The live update that made the header say OK beside a red banner, the other way round too.
    record(source, failing_payload(), now)
    body = user_client.get("/sources/us-east/parts.json").json()
    assert body["status"] == "error"
    assert pill(body["parts"]["head"]) == "Error"
    assert "redis_unavailable" in body["parts"]["issue"]
    now_text = text(body["parts"]["now"])
    assert "redis down" in now_text
    assert "Reported status error" in now_text
    assert "&quot;status&quot;: &quot;error&quot;" in body["parts"]["raw"]
    assert "status" in text(body["parts"]["changes"])
    assert body["sequence"] == 2

    record(source, payload(), now + timedelta(seconds=1))
    body = user_client.get("/sources/us-east/parts.json").json()
    assert (body["status"], pill(body["parts"]["head"])) == ("ok", "OK")
    assert body["parts"]["issue"].strip() == ""
    assert "Reported status ok" in text(body["parts"]["now"])


def test_it_never_says_ok_in_the_header_beside_a_failing_reported_status(user_client: Client) -> None:
    record(make_source("us-east"), failing_payload(), timezone.now())
    page = user_client.get("/sources/us-east/").content.decode()
    assert pill(page) == "Error"
    assert "redis_unavailable" in page


def test_it_answers_parts_of_an_unknown_source_with_404_and_needs_a_login(client: Client, user_client: Client) -> None:
    assert user_client.get("/sources/nowhere/parts.json").status_code == 404
    user_client.logout()
    make_source("us-east")
    assert client.get("/sources/us-east/parts.json").status_code == 401


def test_it_keeps_the_last_attempt_apart_from_the_last_good_content(user_client: Client) -> None:
    now = timezone.now()
    source = make_source(
        "us-east",
        last_polled_at=now,
        last_status_code=503,
        last_latency_ms=407.0,
        consecutive_failures=1,
        last_error_at=now,
        last_error_kind="http_status",
        last_error_message="HTTP 503",
        last_success_at=now - timedelta(seconds=30),
    )
    from metrics.stores import get_store

    get_store().record(source.spec(), payload(), now - timedelta(seconds=30), {"status_code": 200, "latency_ms": 1.9})
    html = user_client.get("/sources/us-east/").content.decode()
    attempt = re.search(r'data-health="attempt">(.*?)</dl>', html, re.S)
    good = re.search(r'data-health="good">(.*?)</dl>', html, re.S)
    assert attempt
    assert good
    attempt_text, good_text = text(attempt.group(1)), text(good.group(1))
    assert "Last HTTP status 503" in attempt_text
    assert "Last latency 407 ms" in attempt_text
    assert "failed (http_status)" in attempt_text
    assert "Good poll HTTP status 200" in good_text
    assert "Good poll latency 2 ms" in good_text
    assert "503" not in good_text
    assert "200" not in attempt_text


def test_it_dims_unreachable_numbers_as_last_known_and_says_down_since_when(user_client: Client) -> None:
    now = timezone.now()
    since = now - timedelta(minutes=8)
    source = make_source(
        "us-east",
        last_polled_at=now,
        last_success_at=since,
        last_error_at=now,
        consecutive_failures=3,
        last_error_kind="timeout",
    )
    record(source, payload(), since)
    html = user_client.get("/").content.decode()
    card = re.search(r'<article class="card[^"]*" data-source="us-east".*?</article>', html, re.S)
    assert card
    assert 'data-status="unreachable"' in card.group(0)
    assert 'class="card-data is-last-known"' in card.group(0)
    expected = f"down since {since.astimezone(UTC):%H:%M} (8 min)"
    assert expected in text(card.group(0))
    assert "Last known values" in text(card.group(0))
    assert user_client.get("/overview/cards.json").json()["cards"]["us-east"]["down_since"] == since.isoformat()

    detail = user_client.get("/sources/us-east/").content.decode()
    assert "is-last-known-page" in detail
    assert expected in text(detail)


def test_it_shows_current_numbers_without_the_last_known_mark(user_client: Client) -> None:
    source = make_source("us-east", last_polled_at=timezone.now(), last_success_at=timezone.now())
    record(source, payload(), timezone.now())
    card = re.search(
        r'<article class="card[^"]*" data-source="us-east".*?</article>', user_client.get("/").content.decode(), re.S
    )
    assert card
    assert "is-last-known" not in card.group(0)
    assert "down since" not in card.group(0)


# --- the page-wide banner -----------------------------------------------------------------------


def alive_poller(**fields: Any) -> PollerProcess:
    process = PollerProcess.register("p-1", "host", 1, "redis")
    if fields:
        PollerProcess.objects.filter(pk=process.pk).update(**fields)
    return process


def banner(html: str) -> str:
    match = re.search(r'<div class="system-banner" id="system-banner"[^>]*>.*?</div>', html, re.S)
    assert match, "no banner element"
    return match.group(0)


def test_it_shows_the_banner_on_every_page_when_no_poller_has_a_heartbeat(staff_client: Client) -> None:
    make_source("us-east")
    for url in ("/", "/sources/us-east/", "/sources/us-east/changes/", "/system/"):
        html = staff_client.get(url).content.decode()
        shown = banner(html)
        assert " hidden" not in shown.split(">", 1)[0], url
        assert "No poller is running" in shown
    state = staff_client.get("/system/state.json").json()
    assert state["ok"] is False
    assert state["pollers_alive"] == 0
    assert state["store_ok"] is True
    assert state["check_every_seconds"] == system_state.CHECK_EVERY_SECONDS


def test_it_hides_the_banner_while_a_poller_beats_and_shows_it_once_the_poller_stops(staff_client: Client) -> None:
    process = alive_poller()
    assert banner(staff_client.get("/").content.decode()).split(">", 1)[0].endswith(" hidden")
    assert staff_client.get("/system/state.json").json()["ok"] is True

    process.mark_stopped(0)  # a clean stop: no heartbeat to wait out
    cache.clear()  # the answer is cached for CACHE_SECONDS
    assert "No poller is running" in banner(staff_client.get("/").content.decode())

    PollerProcess.objects.all().delete()
    alive_poller(last_heartbeat_at=timezone.now() - system_state.POLLER_ALIVE_WITHIN - timedelta(seconds=1))
    cache.clear()
    assert staff_client.get("/system/state.json").json()["pollers_alive"] == 0


@pytest.fixture
def dead_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[MongoMetricStore]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true",
        serverSelectionTimeoutMS=200,
        connectTimeoutMS=200,
    )
    store = MongoMetricStore(client, "nowhere")
    monkeypatch.setattr(system_state, "get_store", lambda: store)
    yield store
    client.close()


def test_it_says_so_in_the_banner_when_the_store_does_not_answer(user_client: Client, dead_store: Any) -> None:
    alive_poller()
    state = user_client.get("/system/state.json").json()
    assert (state["ok"], state["store_ok"]) == (False, False)
    assert any("metric store does not answer" in p for p in state["problems"])
    assert "nowhere" not in json.dumps(state)  # no backend detail leaks


def test_it_answers_the_state_endpoint_only_after_login(client: Client) -> None:
    assert client.get("/system/state.json").status_code == 401
    html = client.get("/accounts/login/").content.decode()
    assert "system-banner" not in html


def test_it_clears_the_cached_banner_at_once_when_a_poller_starts_or_stops_cleanly(staff_client: Client) -> None:
    assert staff_client.get("/system/state.json").json()["pollers_alive"] == 0  # cached for CACHE_SECONDS

    process = PollerProcess.register("host:7:abc", "host", 7, "local")
    assert staff_client.get("/system/state.json").json()["pollers_alive"] == 1  # not the cached 0
    assert banner(staff_client.get("/").content.decode()).split(">", 1)[0].endswith(" hidden")

    process.mark_stopped(0)
    assert staff_client.get("/system/state.json").json()["pollers_alive"] == 0  # not the cached 1


def test_it_clears_the_cached_banner_at_once_when_the_store_fails_or_answers_again_here(
    user_client: Client, dead_store: MongoMetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics.signals import store_availability_changed
    from metrics.stores import get_store
    from metrics.stores.base import StoreError
    from metrics.stores.instrumented import InstrumentedStore

    alive_poller()
    answering = get_store()
    monkeypatch.setattr(system_state, "get_store", lambda: answering)
    assert user_client.get("/system/state.json").json()["store_ok"] is True  # cached for CACHE_SECONDS
    announced: list[bool] = []

    def heard(sender: Any, available: bool, **kwargs: Any) -> None:
        announced.append(available)

    store_availability_changed.connect(heard)
    try:
        # The outage begins: a page's store call in this process fails, and the banner's probe would too.
        instrumented = InstrumentedStore(dead_store)
        monkeypatch.setattr(system_state, "get_store", lambda: dead_store)
        for _ in range(2):
            with pytest.raises(StoreError):
                instrumented.latest("us-east")
        assert user_client.get("/system/state.json").json()["store_ok"] is False  # not the cached True

        # It ends: the same store answers again in this process.
        instrumented.inner = answering
        monkeypatch.setattr(system_state, "get_store", lambda: answering)
        instrumented.latest("us-east")
        instrumented.latest("us-east")
        assert user_client.get("/system/state.json").json()["store_ok"] is True  # not the cached False
    finally:
        store_availability_changed.disconnect(heard)
    assert announced == [False, True]  # transitions only, not every call
