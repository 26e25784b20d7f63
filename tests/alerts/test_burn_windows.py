"""The burn-rate rules' availability windows (alerts.burn_windows): the settled part read once a minute for
every covered source, the last two minutes per poll; the counts must be those of one whole read per poll."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.burn_windows import availability_windows
from alerts.models import AlertEvent
from metrics.models import AvailabilityCount
from metrics.slo import STANDARD_CONDITIONS
from metrics.slo_windows import SLO_WINDOWS, window_counts
from metrics.stores import get_store
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed
from tests.alerts.support import make_rule
from tests.factories import make_objective, make_source, record_outcomes

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)
NAMES = tuple(SLO_WINDOWS)
START = datetime(2026, 11, 29, 10, 58, 5, tzinfo=UTC)  # the walk below crosses 10:59, 11:00 and 11:01


def availability_reads(queries: CaptureQueriesContext) -> int:
    return sum(AvailabilityCount._meta.db_table in q["sql"] for q in queries.captured_queries)


def whole(slug: str, at: datetime) -> dict[str, Any]:
    """What one read of every whole window per poll gives (the counts the split read must equal)."""
    return window_counts(get_store(), slug, at + MINUTE, NAMES)


def test_it_counts_what_a_whole_read_per_poll_counts_across_minute_and_hour_boundaries() -> None:
    chance = random.Random(22)  # a fixed walk: a failure reproduces
    sources = [make_source(slug) for slug in ("us-east", "eu-west", "ap-south")]
    objective = make_objective(sources=sources)
    for source in sources:  # history in every window: minute buckets of the last hours, hour ones of days
        for minutes in (3, 4, 7, 25, 50, 59, 61, 130, 300, 400, 1500, 3000, 4400):
            record_outcomes(
                source, START - timedelta(minutes=minutes), up=chance.randint(0, 3), down=chance.randint(0, 2)
            )
    at = START
    seen = set()
    while at < START + 4 * MINUTE:
        source = chance.choice(sources)
        record_outcomes(source, at, up=chance.randint(0, 1), down=chance.randint(0, 1))  # the poll, counted first
        assert availability_windows(get_store(), objective, source, at, NAMES) == whole(source.slug, at), at
        seen.add((at.hour, at.minute))
        at += timedelta(seconds=chance.randint(5, 25))
    assert {(10, 58), (10, 59), (11, 0), (11, 1)} <= seen  # the hour windows' fresh part at minutes 59 and 0


def test_it_reads_the_settled_windows_once_a_minute_for_every_covered_source() -> None:
    sources = [make_source(f"s{i}") for i in range(4)]
    objective = make_objective(sources=sources)
    for source in sources:
        record_outcomes(source, START - 30 * MINUTE, up=5, down=1)
    store = get_store()
    for minute in range(2):
        at = START + minute * MINUTE
        with CaptureQueriesContext(connection) as queries:
            availability_windows(store, objective, sources[0], at, NAMES)
        assert availability_reads(queries) == 2  # the batch of all four, and s0's last two minutes
        for source in sources[1:]:
            with CaptureQueriesContext(connection) as queries:
                windows = availability_windows(store, objective, source, at + timedelta(seconds=10), NAMES)
            assert availability_reads(queries) == 1  # its last two minutes only
            assert windows == whole(source.slug, at + timedelta(seconds=10))
            assert windows["1h"].total == 6


def test_it_counts_a_late_count_of_the_previous_minute_at_once_and_an_older_one_from_the_next_minute() -> None:
    source = make_source("us-east")
    objective = make_objective(sources=[source])
    store = get_store()
    record_outcomes(source, START - 10 * MINUTE, up=10)
    assert availability_windows(store, objective, source, START, NAMES)["1h"] == whole(source.slug, START)["1h"]

    # Counted after the minute's batch was read: a poll of the previous minute (a poller's batch flushed
    # late) is in the per-poll read; one of two minutes ago (a poll that took over a minute) is not yet.
    record_outcomes(source, START - MINUTE, down=1)
    record_outcomes(source, START - 2 * MINUTE, down=1)
    later = START + timedelta(seconds=20)
    windows = availability_windows(store, objective, source, later, NAMES)
    assert (windows["5m"].total, windows["5m"].good) == (1, 0)
    assert (whole(source.slug, later)["5m"].total, whole(source.slug, later)["5m"].good) == (2, 0)

    # The next minute's read has it: late by under a minute, and never taken back after.
    for at in (START + MINUTE, START + 2 * MINUTE):
        windows = availability_windows(store, objective, source, at, NAMES)
        assert windows == whole(source.slug, at)
        assert windows["5m"].total - windows["5m"].good == 2


def test_it_reads_a_poll_of_an_older_minute_whole_and_keeps_the_newer_batch() -> None:
    source, other = make_source("us-east"), make_source("eu-west")
    objective = make_objective(sources=[source, other])
    store = get_store()
    record_outcomes(source, START - 20 * MINUTE, up=3, down=1)
    availability_windows(store, objective, source, START, NAMES)
    old = START - 3 * MINUTE  # a replayed poll, or one that started three minutes ago
    with CaptureQueriesContext(connection) as queries:
        windows = availability_windows(store, objective, source, old, NAMES)
    assert windows == whole(source.slug, old)
    assert availability_reads(queries) == 2  # its own settled and fresh parts, no batch of all sources
    with CaptureQueriesContext(connection) as queries:
        availability_windows(store, objective, other, START + timedelta(seconds=5), NAMES)
    assert availability_reads(queries) == 1  # the batch of START's minute is still there


def test_it_fires_through_the_engine_on_the_poll_that_shows_the_burn_reading_the_batch_once() -> None:
    sources = [make_source(f"s{i}") for i in range(3)]
    objective = make_objective(sources=sources, target="99")
    rule = make_rule(name="burn", kind="burn_rate", objective=objective, fire_after=1, resolve_after=1)
    for source in sources:
        record_outcomes(source, START - 20 * MINUTE, up=10)  # in the 1 h and 6 h windows: 3 failures burn 23x
    with CaptureQueriesContext(connection) as queries:
        for n, source in enumerate(sources):
            outcome = PollOutcome(source=source.slug, poll_id=f"p{n}", started_at=START, ok=True)
            poll_completed.send(sender=Source, source=source, outcome=outcome)
    assert availability_reads(queries) == 1 + len(sources)  # one batch for the minute, one small read per poll
    assert not AlertEvent.objects.exists()

    record_outcomes(sources[1], START + timedelta(seconds=30), down=3)  # the failing poll, counted before its signal
    outcome = PollOutcome(source="s1", poll_id="p9", started_at=START + timedelta(seconds=30), ok=False)
    poll_completed.send(sender=Source, source=sources[1], outcome=outcome)
    fired = AlertEvent.objects.get()
    assert (fired.rule_id, fired.source_id, fired.kind) == (rule.pk, sources[1].pk, "fired")
    assert f"{float(STANDARD_CONDITIONS[0].threshold):g}x 1h/5m" in fired.value["firing"]
