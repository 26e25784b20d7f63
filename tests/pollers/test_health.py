"""pollers.health: one rule for paused, waiting, circuit open, failing, stale and fresh, shared by every reader."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from pollers import health
from pollers.health import PollHealth
from pollers.models import Source
from tests.factories import bearer, make_token, member, payload, record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.get_fixed_timezone(0))


def source(**fields: Any) -> Source:
    """An unsaved source that has been polled successfully just now, unless ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "slug": "us-east",
        "interval_seconds": 30,
        "enabled": True,
        "last_polled_at": NOW,
        "last_success_at": NOW,
        "created_at": NOW - timedelta(days=1),
    }
    values.update(fields)
    return Source(**values)


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({}, health.FRESH),
        ({"enabled": False, "consecutive_failures": 3, "last_error_at": NOW}, health.PAUSED),
        ({"last_polled_at": None, "last_success_at": None}, health.WAITING),
        ({"circuit_state": "open", "consecutive_failures": 5, "last_error_at": NOW}, health.CIRCUIT_OPEN),
        ({"consecutive_failures": 2, "last_error_at": NOW, "last_success_at": NOW - timedelta(minutes=1)}, "failing"),
        ({"last_success_at": NOW - timedelta(seconds=61)}, health.STALE),
        ({"last_success_at": None}, health.STALE),
    ],
)
def test_it_names_the_first_fact_that_holds(fields: dict[str, Any], state: str) -> None:
    assert health.assess(source(**fields), NOW).state == state


def test_it_calls_data_stale_after_the_configured_number_of_intervals(settings: Any) -> None:
    settings.DASHBOARD_STALE_AFTER_INTERVALS = 2
    assert health.assess(source(last_success_at=NOW - timedelta(seconds=60)), NOW).state == health.FRESH
    assert health.assess(source(last_success_at=NOW - timedelta(seconds=61)), NOW).state == health.STALE
    settings.DASHBOARD_STALE_AFTER_INTERVALS = 5
    assert health.assess(source(last_success_at=NOW - timedelta(seconds=149)), NOW).state == health.FRESH
    assert health.assess(source(last_success_at=NOW - timedelta(seconds=151)), NOW).state == health.STALE
    assert health.stale_after(source(interval_seconds=10)) == timedelta(seconds=50)


def test_it_ignores_a_failure_counter_from_before_the_last_success() -> None:
    leftover = source(consecutive_failures=4, last_error_at=NOW - timedelta(minutes=5))
    assert not health.assess(leftover, NOW).failing
    assert health.assess(source(consecutive_failures=4, last_error_at=NOW), NOW).failing


def test_it_judges_freshness_by_the_data_the_caller_has_seen() -> None:
    polled = source(last_success_at=NOW - timedelta(hours=1))
    seen = health.assess(polled, NOW, fresh_at=NOW - timedelta(seconds=5))
    assert (seen.state, seen.age) == (health.FRESH, timedelta(seconds=5))
    assert health.assess(polled, NOW, fresh_at=None).state == health.STALE
    never = source(last_polled_at=None, last_success_at=None)
    assert health.assess(never, NOW, fresh_at=NOW).state == health.FRESH  # the data proves a poll happened


def test_it_dates_an_outage_from_the_newest_fresh_data() -> None:
    last_good = NOW - timedelta(minutes=8)
    failing = source(consecutive_failures=3, last_error_at=NOW, last_success_at=last_good)
    assert health.assess(failing, NOW).down_since == last_good
    stale = source(last_success_at=last_good)
    assert health.assess(stale, NOW).down_since == last_good
    assert health.assess(source(circuit_state="open", last_success_at=last_good), NOW).down_since == last_good
    assert health.assess(source(), NOW).down_since is None  # fresh: not down
    assert health.assess(source(enabled=False, last_success_at=last_good), NOW).down_since is None  # paused
    assert health.assess(source(last_polled_at=None, last_success_at=None), NOW).down_since is None  # waiting


def test_it_counts_time_without_success_from_creation_when_there_never_was_one() -> None:
    assert health.without_success_since(source()) == NOW
    assert health.without_success_since(source(last_success_at=None)) == NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        ((0, "closed"), (0, "closed"), None),
        ((0, "closed"), (1, "closed"), health.FAILING),
        ((1, "closed"), (2, "closed"), None),
        ((4, "closed"), (5, "open"), health.CIRCUIT_OPEN),
        ((0, "closed"), (1, "open"), health.CIRCUIT_OPEN),
        ((5, "half_open"), (6, "open"), health.CIRCUIT_OPEN),  # a failed trial reopens the breaker
        ((6, "open"), (7, "open"), None),
        ((3, "closed"), (0, "closed"), health.RECOVERED),
        ((0, "half_open"), (0, "closed"), health.RECOVERED),
    ],
)
def test_it_tells_what_one_poll_changed(before: tuple[int, str], after: tuple[int, str], change: str | None) -> None:
    assert health.change(PollHealth(*before), PollHealth(*after)) == change
    assert change is None or change in health.CHANGES


@pytest.mark.django_db
@pytest.mark.parametrize(("age", "expected"), [(50, ("ok", "ok")), (70, ("stale", "stale"))])
def test_it_gives_the_api_and_the_dashboard_the_same_verdict(
    client: Client, settings: Any, age: int, expected: tuple[str, str]
) -> None:
    cache.clear()
    settings.DASHBOARD_STALE_AFTER_INTERVALS = 2
    at = timezone.now() - timedelta(seconds=age)
    polled = Source.objects.create(
        slug="eu-west",
        name="EU West",
        url="http://127.0.0.1:9/eu-west",
        interval_seconds=30,
        last_polled_at=at,
        last_success_at=at,
    )
    record(polled, payload(), at)
    api = client.get("/api/v1/sources/eu-west", **bearer(make_token())).json()["health"]["status"]
    member(client, username="ada")  # a viewer of the default team, which owns the source
    card = client.get("/overview/cards.json").json()["cards"]["eu-west"]["status"]
    assert (api, card) == expected


@pytest.mark.django_db
def test_it_filters_lists_by_the_same_facts_it_assesses() -> None:
    now = timezone.now()
    rows = {
        "fresh": {"last_polled_at": now, "last_success_at": now},
        "failing": {"last_polled_at": now, "consecutive_failures": 2, "last_error_at": now},
        "leftover": {
            "last_polled_at": now,
            "last_success_at": now,
            "consecutive_failures": 2,
            "last_error_at": now - timedelta(minutes=1),
        },
        "open": {"last_polled_at": now, "circuit_state": "open", "consecutive_failures": 5, "last_error_at": now},
        "never": {},
    }
    for slug, fields in rows.items():
        Source.objects.create(slug=slug, name=slug, url=f"http://127.0.0.1:9/{slug}", **fields)
    for name, q in (
        ("failing", health.failing_filter()),
        ("circuit_open", health.circuit_open_filter()),
        ("waiting", health.waiting_filter()),
    ):
        by_query = set(Source.objects.filter(q).values_list("slug", flat=True))
        by_assess = {s.slug for s in Source.objects.all() if getattr(health.assess(s, now), name)}
        assert by_query == by_assess, name
        assert by_query, name  # each filter picks someone here, so agreement is not vacuous
