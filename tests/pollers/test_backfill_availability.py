"""manage.py backfill_availability: from the failure log and history, idempotent, never over live counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from metrics.stores import get_backend_store, get_store
from metrics.stores.base import MetricStore, SourceSpec
from pollers.models import PollFailure, Source
from tests.factories import make_source

pytestmark = pytest.mark.django_db

# Recent days (the MongoDB store expires history after METRICS_HISTORY_RETENTION_DAYS).
DAY = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
NEXT = DAY + timedelta(days=1)
LIVE_FROM = NEXT + timedelta(hours=9, minutes=17)


@pytest.fixture(params=["sql", "mongodb"])
def store(request: pytest.FixtureRequest, settings: Any) -> Iterator[MetricStore]:
    if request.param == "mongodb":
        settings.METRIC_STORE = "mongodb"
        settings.MONGODB_URL = request.getfixturevalue("mongodb_url")
        settings.MONGODB_DATABASE = f"backfill_test_{uuid.uuid4().hex[:8]}"
        settings.MONGODB_ENSURE_INDEXES = True
    get_store.cache_clear()
    store = get_backend_store()
    yield store
    if request.param == "mongodb":
        store.client.drop_database(settings.MONGODB_DATABASE)  # type: ignore[attr-defined]
    get_store.cache_clear()


@pytest.fixture
def source() -> Source:
    return make_source("us-east", url="https://us-east.example.com/status")


def stored_change(store: MetricStore, source: Source, at: datetime) -> None:
    result = store.record(source.spec(), {"status": "ok", "at": at.isoformat()}, at)
    assert result.changed


def failure(source: Source, at: datetime, kind: str = "timeout") -> None:
    PollFailure.record(source, occurred_at=at, kind=kind, message="upstream failed", latency_ms=1000.0)


def day_counts(store: MetricStore, slug: str = "us-east") -> list[tuple[Any, ...]]:
    return [
        (b.start, b.polls, b.up, dict(b.errors))
        for b in store.availability(slug, "1d", DAY - timedelta(days=1), NEXT + timedelta(days=1))
    ]


def run(*args: str) -> str:
    out = StringIO()
    call_command("backfill_availability", *args, stdout=out)
    return out.getvalue()


def setup_history(store: MetricStore, source: Source) -> None:
    for hour in (1, 2, 3):
        stored_change(store, source, DAY + timedelta(hours=hour))
    failure(source, DAY + timedelta(hours=4))
    failure(source, DAY + timedelta(hours=5), kind="http_503")
    failure(source, DAY + timedelta(hours=6), kind="store_error")  # the upstream answered: up
    stored_change(store, source, NEXT + timedelta(hours=8))  # before the poller counted
    # From here on the poller counts live, and still stores changes and failures as before.
    store.record_poll_outcome("us-east", LIVE_FROM, True, 20.0)
    stored_change(store, source, LIVE_FROM + timedelta(minutes=1))
    store.record_poll_outcome("us-east", LIVE_FROM + timedelta(minutes=1), True, 20.0)
    failure(source, LIVE_FROM + timedelta(minutes=2))
    store.record_poll_outcome("us-east", LIVE_FROM + timedelta(minutes=2), False, None, "timeout")


def test_it_backfills_from_failures_and_history_up_to_the_live_counts_idempotently(
    store: MetricStore, source: Source
) -> None:
    setup_history(store, source)
    out = run()
    assert f"us-east: backfilled 7 poll(s) (5 up, 2 down) from the start to {LIVE_FROM:%Y-%m-%d %H:%M} UTC" in out
    expected = [
        (DAY, 6, 4, {"http_503": 1, "timeout": 1}),
        (NEXT, 4, 3, {"timeout": 1}),  # one backfilled change, then three live polls: none counted twice
    ]
    assert day_counts(store) == expected
    run()
    assert day_counts(store) == expected  # a second run replaces the first


def test_it_only_says_what_it_would_do_on_a_dry_run(store: MetricStore, source: Source) -> None:
    setup_history(store, source)
    out = run("--dry-run")
    assert "us-east: would backfill 7 poll(s) (5 up, 2 down)" in out
    assert day_counts(store) == [(NEXT, 3, 2, {"timeout": 1})]  # the live counts only


def test_it_backfills_from_a_day_on_and_keeps_what_came_before(store: MetricStore, source: Source) -> None:
    setup_history(store, source)
    run()
    failure(source, DAY + timedelta(hours=7))  # found later: not backfilled without the day in range
    failure(source, NEXT + timedelta(hours=1))
    out = run("--since", NEXT.date().isoformat(), "--source", "us-east")
    assert f"us-east: backfilled 2 poll(s) (1 up, 1 down) from {NEXT:%Y-%m-%d}" in out
    assert day_counts(store) == [(DAY, 6, 4, {"http_503": 1, "timeout": 1}), (NEXT, 5, 3, {"timeout": 2})]


def test_it_backfills_a_source_the_poller_has_not_counted_yet_up_to_now(store: MetricStore, source: Source) -> None:
    stored_change(store, source, DAY + timedelta(hours=1))
    out = run()
    assert "us-east: backfilled 1 poll(s) (1 up, 0 down)" in out
    assert "the poller has counted nothing for it yet" in out
    assert day_counts(store) == [(DAY, 1, 1, {})]


def test_it_lists_the_stored_sources_without_reading_their_snapshots(
    store: MetricStore, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It read every source's latest document (latest_all), all held at once, only to know which sources exist."""

    def every_document(self: MetricStore) -> None:
        raise AssertionError("every source's latest snapshot was read to list the sources")

    monkeypatch.setattr(type(store), "latest_all", every_document)
    stored_change(store, source, DAY + timedelta(hours=1))
    # No longer configured, still in the metric store: it is backfilled too.
    store.record(SourceSpec("retired"), {"status": "ok"}, DAY + timedelta(hours=2))
    out = run()
    assert "us-east: backfilled 1 poll(s) (1 up, 0 down)" in out
    assert "retired: backfilled 1 poll(s) (1 up, 0 down)" in out
    assert "retired: backfilled 1 poll(s)" in run("--source", "retired")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since must be a day like 2026-11-01, got 'yesterday'"),
        (["--since", "2026-11-01T10:00:00"], "--since must be a day like"),
        (["--source", "nowhere"], "unknown source(s): nowhere"),
    ],
)
def test_it_refuses_bad_arguments_and_writes_nothing(
    store: MetricStore, source: Source, args: list[str], message: str
) -> None:
    setup_history(store, source)
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert message in str(raised.value)
    assert day_counts(store) == [(NEXT, 3, 2, {"timeout": 1})]
