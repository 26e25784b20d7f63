"""The availability part of the MetricStore contract, on every store: SQLite, PostgreSQL, MongoDB.

Counts are checked against numbers worked out by hand at minute, hour and day boundaries; latency
percentiles against the exact nearest-rank percentile of the same samples (numpy), within the bound
the histogram documents (metrics.availability.RELATIVE_ERROR).
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy
import pytest

from metrics.availability import RELATIVE_ERROR
from metrics.stores.base import AvailabilitySpan, MetricStore, PollSample
from tests.metrics.support import NOON, nearest_rank, within_bound
from tests.mongo_store import client_for

REAL_MONGODB = bool(os.environ.get("MONGODB_TEST_URL"))
SLUG = "us-east"
DAY = NOON.replace(hour=0)  # 2026-11-29 00:00 UTC


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def counts(store: MetricStore, tier: str, start: datetime, end: datetime, source: str = SLUG) -> list[tuple[Any, ...]]:
    return [
        (b.start, b.polls, b.up, dict(b.latency), dict(b.errors)) for b in store.availability(source, tier, start, end)
    ]


def totals(store: MetricStore, source: str = SLUG) -> tuple[int, int]:
    [total] = store.availability_totals(source, [AvailabilitySpan("1d", at("2026-01-01"), at("2027-01-01"))])
    return total.polls, total.up


# --- recording and bucket arithmetic -------------------------------------------------------


def test_it_counts_polls_into_minute_hour_and_day_buckets_at_their_boundaries(store: MetricStore) -> None:
    store.record_poll_outcome(SLUG, at("2026-11-29 11:59:59.999000"), True, 10.0)
    store.record_poll_outcome(SLUG, at("2026-11-29 12:00:00"), True, 20.0)
    store.record_poll_outcome(SLUG, at("2026-11-29 12:00:59.999000"), False, 5000.0, "timeout")
    store.record_poll_outcome(SLUG, at("2026-11-29 12:01:00"), True, 20.0)
    store.record_poll_outcome(SLUG, at("2026-11-29 23:59:59.999000"), False, None, "http_503")
    store.record_poll_outcome(SLUG, at("2026-11-30 00:00:00"), True, None)

    # 10 ms is in bin 14 = [2^(13/4), 2^(14/4)) = [9.51, 11.31); 20 ms in bin 18 = [19.03, 22.63).
    # A down poll's latency is not kept; an up poll without one counts as up with no bin.
    assert counts(store, "1m", at("2026-11-29 11:59"), at("2026-11-29 12:02")) == [
        (at("2026-11-29 11:59"), 1, 1, {14: 1}, {}),
        (at("2026-11-29 12:00"), 2, 1, {18: 1}, {"timeout": 1}),
        (at("2026-11-29 12:01"), 1, 1, {18: 1}, {}),
    ]
    assert counts(store, "1h", at("2026-11-29 11:00"), at("2026-11-30 01:00")) == [
        (at("2026-11-29 11:00"), 1, 1, {14: 1}, {}),
        (at("2026-11-29 12:00"), 3, 2, {18: 2}, {"timeout": 1}),
        (at("2026-11-29 23:00"), 1, 0, {}, {"http_503": 1}),
        (at("2026-11-30 00:00"), 1, 1, {}, {}),
    ]
    assert counts(store, "1d", at("2026-11-29"), at("2026-12-01")) == [
        (at("2026-11-29"), 5, 3, {14: 1, 18: 2}, {"http_503": 1, "timeout": 1}),
        (at("2026-11-30"), 1, 1, {}, {}),
    ]


def test_it_returns_the_buckets_holding_any_moment_of_the_range_end_exclusive(store: MetricStore) -> None:
    for minute in range(5):
        store.record_poll_outcome(SLUG, NOON + timedelta(minutes=minute), True, 50.0)
    # Start mid-bucket: the bucket holding it is in; end on a boundary: that bucket is out.
    got = store.availability(SLUG, "1m", NOON + timedelta(minutes=1, seconds=30), NOON + timedelta(minutes=4))
    assert [b.start for b in got] == [NOON + timedelta(minutes=m) for m in (1, 2, 3)]
    assert got[0].down == 0
    assert store.availability("other", "1m", NOON, NOON + timedelta(hours=1)) == []


def test_it_leaves_the_histograms_out_when_asked(store: MetricStore) -> None:
    store.record_poll_outcome(SLUG, NOON, True, 10.0)
    store.record_poll_outcome(SLUG, NOON, True, None)
    store.record_poll_outcome(SLUG, NOON, False, 30.0, "timeout")
    [bucket] = store.availability(SLUG, "1h", NOON, NOON + timedelta(hours=1), latency=False)
    assert (bucket.polls, bucket.up, dict(bucket.latency), dict(bucket.errors)) == (3, 2, {}, {"timeout": 1})


def test_it_keeps_sources_apart(store: MetricStore) -> None:
    store.record_poll_outcome("us-east", NOON, True, 5.0)
    store.record_poll_outcome("eu-west", NOON, False, None, "dns")
    assert totals(store, "us-east") == (1, 1)
    assert totals(store, "eu-west") == (1, 0)


def record_three_sources(store: MetricStore) -> None:
    """Polls of two sources read together (in one minute bucket, an older minute and an older hour) and a
    third source that a read of those two must leave out."""
    store.record_poll_outcome("us-east", NOON, True, 5.0)
    store.record_poll_outcome("us-east", NOON - timedelta(minutes=20), False, None, "timeout")
    store.record_poll_outcome("eu-west", NOON - timedelta(minutes=2), True, 8.0)
    store.record_poll_outcome("eu-west", NOON - timedelta(hours=3), False, None, "dns")
    store.record_poll_outcome("ap-south", NOON, False, None, "dns")


def test_it_merges_several_sources_per_span_in_totals_and_counts(store: MetricStore) -> None:
    # The objectives' read: nested spans of two tiers over a group of sources, a third source left out.
    record_three_sources(store)
    spans = [
        AvailabilitySpan("1m", NOON - timedelta(minutes=5), NOON + timedelta(minutes=1)),
        AvailabilitySpan("1m", NOON - timedelta(hours=1), NOON + timedelta(minutes=1)),
        AvailabilitySpan("1h", NOON - timedelta(hours=6), NOON + timedelta(hours=1)),
    ]
    expected = [(2, 2), (3, 2), (4, 2)]
    merged = store.availability_totals_of(["us-east", "eu-west"], spans)
    assert [(t.polls, t.up) for t in merged] == expected
    assert dict(merged[1].errors) == {"timeout": 1}
    assert store.availability_counts_of(["us-east", "eu-west"], spans) == expected
    assert store.availability_counts_of([], spans) == [(0, 0)] * 3
    with pytest.raises(ValueError, match="not one string"):
        store.availability_counts_of("us-east", spans)


def test_it_counts_each_source_apart_in_one_read_of_many(store: MetricStore) -> None:
    # The burn-rate rules' once-a-minute read: every covered source's settled windows, kept apart.
    record_three_sources(store)
    spans = [
        AvailabilitySpan("1m", NOON - timedelta(minutes=5), NOON + timedelta(minutes=1)),
        AvailabilitySpan("1m", NOON - timedelta(hours=1), NOON),
        AvailabilitySpan("1h", NOON - timedelta(hours=6), NOON + timedelta(hours=1)),
    ]
    found = store.availability_counts_by_source(["us-east", "eu-west", "nowhere"], spans)
    assert found == {
        "us-east": [(1, 1), (1, 0), (2, 1)],
        "eu-west": [(1, 1), (1, 1), (2, 1)],
        "nowhere": [(0, 0), (0, 0), (0, 0)],
    }
    for slug in ("us-east", "eu-west"):
        assert found[slug] == store.availability_counts_of([slug], spans)
    assert store.availability_counts_by_source([], spans) == {}
    with pytest.raises(ValueError, match="not one string"):
        store.availability_counts_by_source("us-east", spans)


def test_it_counts_a_batch_of_outcomes_as_it_counts_each_one(store: MetricStore) -> None:
    # What a batching poller writes at its flush: several polls of one cell, two sources, up and down.
    store.record_poll_outcomes(
        [
            ("us-east", PollSample(at("2026-11-29 12:00:01"), True, 10.0)),
            ("us-east", PollSample(at("2026-11-29 12:00:31"), True, 10.5)),
            ("us-east", PollSample(at("2026-11-29 12:01:01"), False, None, "timeout")),
            ("eu-west", PollSample(at("2026-11-29 12:00:02"), True, 20.0)),
        ]
    )
    assert counts(store, "1m", at("2026-11-29 12:00"), at("2026-11-29 12:02")) == [
        (at("2026-11-29 12:00"), 2, 2, {14: 2}, {}),
        (at("2026-11-29 12:01"), 1, 0, {}, {"timeout": 1}),
    ]
    assert totals(store, "us-east") == (3, 2)
    assert totals(store, "eu-west") == (1, 1)
    store.record_poll_outcomes([("us-east", PollSample(at("2026-11-29 12:00:40"), True, 10.0))])
    assert totals(store, "us-east") == (4, 3)  # added to the cells already there

    with pytest.raises(ValueError, match="timezone-aware"):
        store.record_poll_outcomes(
            [
                ("us-east", PollSample(at("2026-11-29 12:00:50"), True, 10.0)),
                ("us-east", PollSample(datetime(2026, 11, 29, 12), True, 10.0)),  # naive: refused
            ]
        )
    assert totals(store, "us-east") == (4, 3), "a bad sample writes nothing of its batch"


# --- windows and day bars ------------------------------------------------------------------

WINDOW_POLLS = [
    # (when, up, kind): which windows each is in, with now = 2026-11-29 12:00:30
    ("2026-11-29 12:00:10", True, ""),  # all
    ("2026-11-28 12:01:00", False, "timeout"),  # the 24h window's first minute: all
    ("2026-11-28 12:00:59", True, ""),  # one minute too old for 24h; 7d, 30d, 90d
    ("2026-11-22 13:00:00", True, ""),  # the 7d window's first hour: 7d, 30d, 90d
    ("2026-11-22 12:59:59", False, "connect"),  # 30d, 90d
    ("2026-10-30 13:00:00", True, ""),  # the 30d window's first hour: 30d, 90d
    ("2026-10-30 12:59:59", True, ""),  # 90d
    ("2026-09-01 00:00:00", False, "dns"),  # the 90d window's first day: 90d
    ("2026-08-31 23:59:59", True, ""),  # in no window
]
NOW = at("2026-11-29 12:00:30")


def test_it_summarizes_uptime_per_window_from_the_buckets(store: MetricStore) -> None:
    for when, up, kind in WINDOW_POLLS:
        store.record_poll_outcome(SLUG, at(when), up, 30.0 if up else None, kind)
    summary = store.uptime_summary(SLUG, NOW)
    got = {name: (w.tier, w.start, w.end, w.polls, w.up, w.down) for name, w in summary.items()}
    assert got == {
        "24h": ("1m", at("2026-11-28 12:01"), at("2026-11-29 12:01"), 2, 1, 1),
        "7d": ("1h", at("2026-11-22 13:00"), at("2026-11-29 13:00"), 4, 3, 1),
        "30d": ("1h", at("2026-10-30 13:00"), at("2026-11-29 13:00"), 6, 4, 2),
        "90d": ("1d", at("2026-09-01"), at("2026-11-30"), 8, 5, 3),
    }
    assert {name: w.uptime_percent for name, w in summary.items()} == {
        "24h": 50.0,
        "7d": 75.0,
        "30d": pytest.approx(400 / 6),
        "90d": 62.5,
    }
    # Every up poll took 30 ms, in bin 20 = [2^(19/4), 2^5) = [26.91, 32): its geometric middle.
    assert summary["7d"].latency_p50_ms == summary["90d"].latency_p95_ms == pytest.approx(2**4.875)


def test_it_summarizes_a_source_without_polls_as_unknown(store: MetricStore) -> None:
    summary = store.uptime_summary("nobody", NOW, windows=("24h", "90d"))
    assert list(summary) == ["24h", "90d"]
    assert all(w.polls == 0 and w.uptime_percent is None and w.latency_p95_ms is None for w in summary.values())


def test_it_lists_one_entry_per_day_for_ninety_day_bars(store: MetricStore) -> None:
    for when, up, kind in WINDOW_POLLS:
        store.record_poll_outcome(SLUG, at(when), up, 30.0 if up else None, kind)
    days = store.daily_availability(SLUG, NOW)
    assert len(days) == 90
    assert (days[0].day, days[-1].day) == (date(2026, 9, 1), date(2026, 11, 29))
    by_day = {d.day: (d.polls, d.up, d.down, d.uptime_percent, d.worst_error_kind) for d in days if d.polls}
    assert by_day == {
        date(2026, 9, 1): (1, 0, 1, 0.0, "dns"),
        date(2026, 10, 30): (2, 2, 0, 100.0, None),
        date(2026, 11, 22): (2, 1, 1, 50.0, "connect"),
        date(2026, 11, 28): (2, 1, 1, 50.0, "timeout"),
        date(2026, 11, 29): (1, 1, 0, 100.0, None),
    }
    empty = days[1]
    assert (empty.polls, empty.uptime_percent, empty.worst_error_kind) == (0, None, None)


def test_it_reads_the_day_bars_of_several_sources_at_once_as_each_alone(store: MetricStore) -> None:
    for when, up, kind in WINDOW_POLLS:
        store.record_poll_outcome(SLUG, at(when), up, 30.0 if up else None, kind)
    store.record_poll_outcome("eu-west", NOON, False, None, "timeout")
    store.replace_backfilled_availability("eu-west", DAY, [PollSample(NOON, True, 12.0)])

    many = store.daily_availability_of_sources(["eu-west", SLUG, "nobody", SLUG], NOW)

    assert list(many) == ["eu-west", SLUG, "nobody"]  # each once, in the order asked
    assert many[SLUG] == store.daily_availability(SLUG, NOW)
    assert many["eu-west"] == store.daily_availability("eu-west", NOW)
    assert (many["eu-west"][-1].polls, many["eu-west"][-1].up) == (2, 1)  # live and backfilled added
    assert all(day.polls == 0 for day in many["nobody"])
    assert len(many["nobody"]) == 90
    by_bucket = store.availability_of_sources([SLUG], "1h", at("2026-11-28"), NOW)
    assert by_bucket[SLUG] == store.availability(SLUG, "1h", at("2026-11-28"), NOW)
    assert store.availability_of_sources([], "1d", DAY, NOW) == {}


def test_it_names_the_most_frequent_error_kind_of_a_day_ties_alphabetically(store: MetricStore) -> None:
    for minute, kind in enumerate(["timeout", "http_503", "timeout", "http_503", "dns"]):
        store.record_poll_outcome(SLUG, NOON + timedelta(minutes=minute), False, None, kind)
    [today] = store.daily_availability(SLUG, NOW, days=1)
    assert (today.down, today.worst_error_kind) == (5, "http_503")


# --- percentiles ---------------------------------------------------------------------------


def test_it_computes_latency_percentiles_from_merged_histograms_within_the_bound(store: MetricStore) -> None:
    rng = random.Random(18)
    samples: list[tuple[datetime, float]] = []
    for _ in range(400):
        # Lognormal around 120 ms with a long tail, spread over the last three days.
        when = NOW - timedelta(seconds=rng.uniform(0, 3 * 86400))
        samples.append((when, min(rng.lognormvariate(4.8, 0.9), 100_000.0)))
    for when, latency in samples:
        store.record_poll_outcome(SLUG, when, True, latency)
    summary = store.uptime_summary(SLUG, NOW)
    for name in ("24h", "90d"):
        window = summary[name]
        inside = [latency for when, latency in samples if window.start <= when < window.end]
        assert window.polls == len(inside) > 50
        for p, estimate in ((50, window.latency_p50_ms), (95, window.latency_p95_ms)):
            exact = float(numpy.percentile(inside, p, method="inverted_cdf"))
            assert exact == nearest_rank(inside, p)  # numpy's inverted_cdf is the nearest rank
            assert estimate is not None
            assert within_bound(estimate, exact, RELATIVE_ERROR), (name, p, estimate, exact)


# --- deletion ------------------------------------------------------------------------------


def test_it_prunes_one_tier_before_a_time_and_nothing_else(store: MetricStore) -> None:
    for minute in (0, 1, 2, 61):
        store.record_poll_outcome(SLUG, NOON + timedelta(minutes=minute), True, 10.0)
    store.record_poll_outcome("eu-west", NOON, True, 10.0)
    store.replace_backfilled_availability(SLUG, DAY, [PollSample(NOON + timedelta(seconds=5), False, None, "dns")])

    # The 12:00 minute has a live and a backfilled part: one bucket.
    assert store.prune_availability(SLUG, "1m", NOON + timedelta(minutes=2)) == 2
    assert [b.start for b in store.availability(SLUG, "1m", NOON, NOON + timedelta(hours=2))] == [
        NOON + timedelta(minutes=2),
        NOON + timedelta(minutes=61),
    ]
    assert [(b.start, b.polls) for b in store.availability(SLUG, "1h", NOON, NOON + timedelta(hours=2))] == [
        (NOON, 4),
        (NOON + timedelta(hours=1), 1),
    ]
    assert store.availability("eu-west", "1m", NOON, NOON + timedelta(hours=1))[0].polls == 1
    assert store.prune_availability(SLUG, "1m", NOON + timedelta(minutes=2)) == 0  # idempotent

    assert store.prune_availability(None, "1h", NOON + timedelta(hours=1)) == 2  # both sources' 12:00
    assert [b.start for b in store.availability(SLUG, "1h", NOON, NOON + timedelta(hours=2))] == [
        NOON + timedelta(hours=1)
    ]
    assert store.availability("eu-west", "1h", NOON, NOON + timedelta(hours=2)) == []
    assert totals(store) == (5, 4)  # the day tier was not asked to go


def test_it_forgets_a_source_s_availability_with_the_source(store: MetricStore) -> None:
    store.record_poll_outcome(SLUG, NOON, True, 10.0)
    store.replace_backfilled_availability(SLUG, DAY, [PollSample(NOON, True)])
    store.record_poll_outcome("eu-west", NOON, True, 10.0)
    store.delete_source(SLUG)
    assert totals(store) == (0, 0)
    assert store.oldest_live_availability(SLUG) == {"1m": None, "1h": None, "1d": None}
    assert totals(store, "eu-west") == (1, 1)


# --- backfill ------------------------------------------------------------------------------


def test_it_replaces_backfilled_counts_idempotently_and_never_touches_live_ones(store: MetricStore) -> None:
    store.record_poll_outcome(SLUG, NOON + timedelta(hours=1), True, 10.0)
    old = [
        PollSample(NOON - timedelta(hours=2), True),
        PollSample(NOON - timedelta(hours=1), False, 900.0, "http_502"),
        PollSample(NOON, True, 40.0),
    ]
    assert store.replace_backfilled_availability(SLUG, DAY, old) == 3
    assert store.replace_backfilled_availability(SLUG, DAY, old) == 3  # again: nothing counted twice
    [day] = store.availability(SLUG, "1d", DAY, DAY + timedelta(days=1))
    assert (day.polls, day.up, dict(day.errors)) == (4, 3, {"http_502": 1})
    # Live and backfilled counts of one bucket are merged on read.
    [hour] = store.availability(SLUG, "1h", NOON, NOON + timedelta(hours=1))
    assert (hour.polls, hour.up) == (1, 1)

    store.replace_backfilled_availability(SLUG, DAY, old[:1])
    assert totals(store) == (2, 2)
    store.replace_backfilled_availability(SLUG, DAY, [])
    assert totals(store) == (1, 1)  # only the live poll is left
    assert store.oldest_live_availability(SLUG) == {
        "1m": NOON + timedelta(hours=1),
        "1h": NOON + timedelta(hours=1),
        "1d": DAY,
    }


def test_it_keeps_backfilled_counts_before_since(store: MetricStore) -> None:
    yesterday = DAY - timedelta(days=1)
    store.replace_backfilled_availability(SLUG, yesterday, [PollSample(yesterday, True), PollSample(NOON, True)])
    store.replace_backfilled_availability(SLUG, DAY, [PollSample(NOON, False, None, "dns")])
    assert [(b.start, b.polls, b.up) for b in store.availability(SLUG, "1d", yesterday, DAY + timedelta(days=1))] == [
        (yesterday, 1, 1),
        (DAY, 1, 0),
    ]


# --- concurrency ---------------------------------------------------------------------------


def test_it_loses_no_increment_when_writers_share_a_bucket(store: MetricStore) -> None:
    """Writers hit the same (still missing) buckets at once: every poll is counted in every tier."""
    from django.db import connections

    writers, per_writer = 4, 40
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def writer(number: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                up = (number + i) % 4 != 0
                store.record_poll_outcome(SLUG, NOON + timedelta(seconds=i % 60), up, 25.0, "" if up else "timeout")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected_down = sum(1 for n in range(writers) for i in range(per_writer) if (n + i) % 4 == 0)
    for tier in ("1m", "1h", "1d"):
        [bucket] = store.availability(SLUG, tier, NOON, NOON + timedelta(minutes=1))
        assert (bucket.polls, bucket.down, dict(bucket.errors)) == (
            writers * per_writer,
            expected_down,
            {"timeout": expected_down},
        )
        assert sum(bucket.latency.values()) == bucket.up


# --- bad input -----------------------------------------------------------------------------

NAIVE = datetime(2026, 11, 29, 12, 0)


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ((NAIVE, True, 10.0, ""), "at must be timezone-aware"),
        ((NOON, True, -1.0, ""), "latency_ms must be a finite number >= 0"),
        ((NOON, True, float("nan"), ""), "latency_ms must be a finite number >= 0"),
        ((NOON, True, float("inf"), ""), "latency_ms must be a finite number >= 0"),
        ((NOON, True, "12", ""), "latency_ms must be a number"),
        ((NOON, True, 10.0, "timeout"), "an up poll has no error kind"),
        ((NOON, False, None, ""), "a down poll needs an error kind"),
        ((NOON, False, None, "Time Out"), "a down poll needs an error kind"),
        ((NOON, False, None, "x" * 41), "a down poll needs an error kind"),
        ((NOON, False, None, "e.$x"), "a down poll needs an error kind"),
        ((NOON, 1, 10.0, ""), "up must be True or False"),
    ],
)
def test_it_refuses_a_bad_outcome_and_keeps_what_was_counted(
    store: MetricStore, outcome: tuple[Any, ...], message: str
) -> None:
    store.record_poll_outcome(SLUG, NOON, True, 10.0)
    with pytest.raises(ValueError, match=message):
        store.record_poll_outcome(SLUG, *outcome)
    assert totals(store) == (1, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.availability(SLUG, "5m", NOON, NOW), "unknown availability tier '5m'"),
        (lambda s: s.availability(SLUG, "1m", NAIVE, NOW), "start must be timezone-aware"),
        (lambda s: s.availability(SLUG, "1m", NOW, NOON), "must be after start"),
        (lambda s: s.availability(SLUG, "1m", NOON - timedelta(days=400), NOON), "more than 100000 1m buckets"),
        (lambda s: s.availability_totals(SLUG, [AvailabilitySpan("1w", NOON, NOW)]), "unknown availability tier"),
        (lambda s: s.availability_totals(SLUG, [AvailabilitySpan("1m", NOON, NOW)] * 17), "at most 16 spans"),
        (lambda s: s.uptime_summary(SLUG, NOW, windows=("1y",)), "unknown availability window '1y'"),
        (lambda s: s.uptime_summary(SLUG, NAIVE), "now must be timezone-aware"),
        (lambda s: s.daily_availability(SLUG, NOW, days=0), "days must be a whole number from 1 to 366"),
        (lambda s: s.daily_availability_of_sources([f"s{i}" for i in range(501)], NOW), "at most 500 sources"),
        (lambda s: s.availability_of_sources(SLUG, "1d", NOON, NOW), "not one string"),
        (lambda s: s.availability_of_sources([SLUG], "1d", NOW, NOON), "must be after start"),
        (lambda s: s.prune_availability(SLUG, "raw", NOW), "unknown availability tier 'raw'"),
        (lambda s: s.prune_availability(SLUG, "1m", NAIVE), "before must be timezone-aware"),
        (lambda s: s.replace_backfilled_availability(SLUG, NOON, []), "since must be a UTC midnight"),
        (
            lambda s: s.replace_backfilled_availability(SLUG, DAY, [PollSample(DAY - timedelta(seconds=1), True)]),
            "is before since",
        ),
        (
            lambda s: s.replace_backfilled_availability(SLUG, DAY, [PollSample(NOON, True), PollSample(NOON, False)]),
            "a down poll needs an error kind",
        ),
    ],
)
def test_it_refuses_bad_reads_prunes_and_backfills_clearly_and_changes_nothing(
    store: MetricStore, call: Any, message: str
) -> None:
    store.record_poll_outcome(SLUG, NOON, True, 10.0)
    store.replace_backfilled_availability(SLUG, DAY, [PollSample(NOON, False, None, "dns")])
    with pytest.raises(ValueError, match=message):
        call(store)
    assert totals(store) == (2, 1)


# --- where nx-27017 differs from real MongoDB ----------------------------------------------


@pytest.mark.xfail(
    not REAL_MONGODB,
    reason="nx-27017: an upsert that inserts stores a dotted $inc path under a literal dotted key "
    "(the store keeps its counters at the top level of the document)",
    strict=True,
)
def test_it_increments_a_nested_counter_of_an_upserted_document(mongodb_url: str) -> None:
    client = client_for(mongodb_url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        docs = client[name].docs
        for _ in range(2):
            docs.update_one({"_id": "bucket"}, {"$inc": {"polls": 1, "latency.b7": 1}}, upsert=True)
        assert docs.find_one({"_id": "bucket"}) == {"_id": "bucket", "polls": 2, "latency": {"b7": 2}}
    finally:
        client.drop_database(name)
        client.close()


def test_it_raises_a_store_error_for_every_availability_call_when_mongodb_is_unreachable() -> None:
    from metrics.stores.base import StoreError
    from metrics.stores.mongo import MongoMetricStore
    from tests import services

    client = client_for(
        f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true", serverSelectionTimeoutMS=200
    )
    store = MongoMetricStore(client, "unreachable")
    calls = [
        lambda: store.record_poll_outcome(SLUG, NOON, True, 10.0),
        lambda: store.availability(SLUG, "1m", NOON, NOW),
        lambda: store.uptime_summary(SLUG, NOW),
        lambda: store.daily_availability(SLUG, NOW),
        lambda: store.prune_availability(None, "1m", NOW),
        lambda: store.replace_backfilled_availability(SLUG, DAY, [PollSample(NOON, True)]),
        lambda: store.oldest_live_availability(SLUG),
    ]
    try:
        for call in calls:
            with pytest.raises(StoreError, match=r"MongoDB metric store failed to .*ServerSelectionTimeoutError"):
                call()
    finally:
        client.close()
