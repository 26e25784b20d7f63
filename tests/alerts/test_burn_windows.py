"""The burn-rate rules' availability windows (alerts.burn_windows): the settled part read once a minute for
every covered source, the last two minutes from this process's own count of its polls (alerts.recent_polls),
or from the store when it cannot vouch for them; the counts must be those of one whole read per poll."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import recent_polls
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
START = datetime(2026, 11, 29, 10, 58, 5, tzinfo=UTC)  # the walks below cross 10:59, 11:00 and 11:01
_ids = count()


def availability_reads(queries: CaptureQueriesContext) -> int:
    return sum(AvailabilityCount._meta.db_table in q["sql"] for q in queries.captured_queries)


def whole(slug: str, at: datetime) -> dict[str, Any]:
    """What one read of every whole window per poll gives (the counts the split read must equal)."""
    return window_counts(get_store(), slug, at + MINUTE, NAMES)


def outcome(source: Source, at: datetime, *, ok: bool = True) -> PollOutcome:
    return PollOutcome(
        source=source.slug, poll_id=f"p{next(_ids)}", started_at=at, ok=ok, error_kind="" if ok else "timeout"
    )


def poll(source: Source, at: datetime, *, up: int = 0, down: int = 0) -> None:
    """Polls made by this process: counted in the store by the poller, then by the alert engine (in that order)."""
    record_outcomes(source, at, up=up, down=down)
    for ok in [True] * up + [False] * down:
        recent_polls.count(outcome(source, at, ok=ok))


def vouched_from(minute: datetime) -> None:
    """A process counting its polls since before ``minute``: it can vouch for that minute on."""
    recent_polls.count(PollOutcome(source="elsewhere", poll_id="warm", started_at=minute - 2 * MINUTE, ok=True))


@pytest.mark.parametrize("vouched", [True, False], ids=["counting-for-a-while", "just-started"])
def test_it_counts_what_a_whole_read_per_poll_counts_across_minute_and_hour_boundaries(vouched: bool) -> None:
    chance = random.Random(22)  # a fixed walk: a failure reproduces
    sources = [make_source(slug) for slug in ("us-east", "eu-west", "ap-south")]
    objective = make_objective(sources=sources)
    for source in sources:  # history in every window: minute buckets of the last hours, hour ones of days
        for minutes in (3, 4, 7, 25, 50, 59, 61, 130, 300, 400, 1500, 3000, 4400):
            record_outcomes(
                source, START - timedelta(minutes=minutes), up=chance.randint(0, 3), down=chance.randint(0, 2)
            )
    if vouched:
        vouched_from(START)
    at = START
    seen = set()
    while at < START + 5 * MINUTE:
        source = chance.choice(sources)
        poll(source, at, up=chance.randint(0, 1), down=chance.randint(0, 1))  # the poll, counted first
        assert availability_windows(get_store(), objective, source, at, NAMES) == whole(source.slug, at), at
        seen.add((at.hour, at.minute))
        at += timedelta(seconds=chance.randint(5, 25))
    assert {(10, 58), (10, 59), (11, 0), (11, 1), (11, 2)} <= seen  # hour windows' minute parts at minutes 59 and 0


def test_it_reads_the_settled_windows_once_a_minute_and_nothing_per_poll_once_it_can_vouch() -> None:
    sources = [make_source(f"s{i}") for i in range(4)]
    objective = make_objective(sources=sources)
    for source in sources:
        record_outcomes(source, START - 30 * MINUTE, up=5, down=1)
    store = get_store()
    vouched_from(START)
    for minute in range(2):
        at = START + minute * MINUTE
        poll(sources[0], at, up=1)
        with CaptureQueriesContext(connection) as queries:
            availability_windows(store, objective, sources[0], at, NAMES)
        assert availability_reads(queries) == 1  # the batch of all four, nothing for s0's last two minutes
        for source in sources[1:]:
            poll(source, at + timedelta(seconds=10), down=1)
            with CaptureQueriesContext(connection) as queries:
                windows = availability_windows(store, objective, source, at + timedelta(seconds=10), NAMES)
            assert availability_reads(queries) == 0
            assert windows == whole(source.slug, at + timedelta(seconds=10))
            assert (windows["1h"].total, windows["1h"].good) == (6 + 1 + minute, 5)


def test_a_just_started_process_reads_the_last_two_minutes_per_poll_until_it_can_vouch() -> None:
    sources = [make_source(f"s{i}") for i in range(3)]
    objective = make_objective(sources=sources)
    store = get_store()
    for minute, reads in ((0, 1), (1, 1), (2, 0)):  # counting since START's minute: it vouches for START + 1 on
        at = START + minute * MINUTE
        availability_windows(store, objective, sources[0], at, NAMES)  # the minute's batch
        poll(sources[1], at + timedelta(seconds=5), up=1)
        with CaptureQueriesContext(connection) as queries:
            windows = availability_windows(store, objective, sources[1], at + timedelta(seconds=5), NAMES)
        assert availability_reads(queries) == reads, minute
        assert windows == whole(sources[1].slug, at + timedelta(seconds=5))


def test_another_processes_polls_of_the_last_two_minutes_come_with_the_settled_read_of_the_minute_after_next() -> None:
    source = make_source("us-east")
    objective = make_objective(sources=[source])
    store = get_store()
    record_outcomes(source, START - 10 * MINUTE, up=10)
    vouched_from(START)
    assert availability_windows(store, objective, source, START, NAMES) == whole(source.slug, START)

    # Polls by another poller (a lease that moved), in the store only: the previous and the current minute.
    record_outcomes(source, START - MINUTE, down=1)
    record_outcomes(source, START, down=1)
    later = START + timedelta(seconds=20)
    assert availability_windows(store, objective, source, later, NAMES)["5m"].total == 0  # neither yet
    assert whole(source.slug, later)["5m"].total == 2

    # The next minute's settled read has the previous minute's; the one after has both, and keeps them.
    windows = availability_windows(store, objective, source, START + MINUTE, NAMES)
    assert (windows["5m"].total, windows["5m"].good) == (1, 0)
    for at in (START + 2 * MINUTE, START + 3 * MINUTE):
        windows = availability_windows(store, objective, source, at, NAMES)
        assert windows == whole(source.slug, at)
        assert (windows["5m"].total, windows["5m"].good) == (2, 0)


def test_a_just_started_process_counts_a_late_count_of_the_previous_minute_at_once() -> None:
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

    windows = availability_windows(store, objective, source, START + MINUTE, NAMES)  # the next minute's read has it
    assert windows == whole(source.slug, START + MINUTE)
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
    assert availability_reads(queries) == 1  # the batch of START's minute is still there (and a fresh read)


def test_it_fires_through_the_engine_on_the_poll_that_shows_the_burn_reading_the_batch_once() -> None:
    sources = [make_source(f"s{i}") for i in range(3)]
    objective = make_objective(sources=sources, target="99")
    rule = make_rule(name="burn", kind="burn_rate", objective=objective, fire_after=1, resolve_after=1)
    for source in sources:  # enough good polls that only the fast pair (14.4x over 1 h and 5 m) can fire below
        record_outcomes(source, START - 20 * MINUTE, up=10)  # in the 1 h, 6 h and 3 d windows
        record_outcomes(source, START - timedelta(hours=3), up=40)  # 6 h and 3 d
        record_outcomes(source, START - timedelta(days=2), up=500)  # 3 d
    vouched_from(START)
    with CaptureQueriesContext(connection) as queries:
        for source in sources:  # the engine counts each poll itself (the poller's store count is not needed here)
            poll_completed.send(sender=Source, source=source, outcome=outcome(source, START))
    assert availability_reads(queries) == 1  # one batch for the minute, nothing per poll
    assert not AlertEvent.objects.exists()

    # Failing polls of s1: 11 of 12 good in the last hour is an 8.3x burn (a 1% budget), 11 of 13 is 15.4x:
    # the second failure is the poll that shows it, at or above 14.4x over 1 h and 5 m (6 h: 2 of 55 bad, 3.6x).
    failing = START + timedelta(seconds=30)
    poll_completed.send(sender=Source, source=sources[1], outcome=outcome(sources[1], failing, ok=False))
    assert not AlertEvent.objects.exists()
    poll_completed.send(sender=Source, source=sources[1], outcome=outcome(sources[1], failing, ok=False))
    fired = AlertEvent.objects.get()
    assert (fired.rule_id, fired.source_id, fired.kind) == (rule.pk, sources[1].pk, "fired")
    assert f"{float(STANDARD_CONDITIONS[0].threshold):g}x 1h/5m" in fired.value["firing"]
