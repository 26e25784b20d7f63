"""Rollups in every store: hand-computed buckets, idempotence, and series() answering from the
finest tier that still covers the range once raw data is gone."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta

import pytest

from metrics.lifecycle.retention import roll_up, rollup_store
from metrics.rollups import RollupBucket
from metrics.stores.base import MetricStore, SourceSpec

MEETS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}  # as objectives count minutes
SPEC = SourceSpec("us-east", metric_paths={"cpu": "stats.cpu", "up": "services.redis"})
# Three days ago at midnight: inside the MongoDB TTL window (METRICS_HISTORY_RETENTION_DAYS, 7 by default).
DAY = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(minutes: float) -> datetime:
    return DAY + timedelta(minutes=minutes)


def record(store: MetricStore, minutes: float, cpu: float, up: bool = True) -> None:
    store.record(SPEC, {"stats": {"cpu": cpu}, "services": {"redis": up}}, at(minutes))


def fill(store: MetricStore) -> None:
    """10:00 x3, 10:01, 10:59, 11:00 and the next day: the numbers of tests/metrics/test_rollup_arithmetic.py."""
    for minutes, cpu, up in [
        (600.0, 10.0, True),
        (600.25, 30.0, True),
        (600.5, 20.0, False),
        (601.0, 50.0, False),
        (659.9, 5.0, True),
        (660.0, 7.0, True),
        (1440 + 600, 40.0, True),
    ]:
        record(store, minutes, cpu, up)


def numbers(bucket: RollupBucket) -> tuple[int, float, float, float, float]:
    return (bucket.count, bucket.min, bucket.max, bucket.sum, bucket.last)


def test_it_rolls_up_recorded_history_into_hand_computed_buckets(store: MetricStore) -> None:
    fill(store)
    target = rollup_store(store)
    written = roll_up(target, "us-east")
    # Every record changed the payload (cpu moves), so each is a history entry with both metrics:
    # 5 minutes with data (10:00, 10:01, 10:59, 11:00, the next day) x 2 metrics.
    assert written["1m"] == 10
    minutes = {(b.metric, b.start): b for b in target.rollups("us-east", "1m")}
    assert numbers(minutes[("cpu", at(600))]) == (3, 10.0, 30.0, 60.0, 20.0)
    assert numbers(minutes[("up", at(600))]) == (3, 0.0, 1.0, 2.0, 0.0)
    hours = {(b.metric, b.start): b for b in target.rollups("us-east", "1h")}
    assert numbers(hours[("cpu", at(600))]) == (5, 5.0, 50.0, 115.0, 5.0)
    assert numbers(hours[("cpu", at(660))]) == (1, 7.0, 7.0, 7.0, 7.0)
    days = {(b.metric, b.start): b for b in target.rollups("us-east", "1d")}
    assert numbers(days[("cpu", DAY)]) == (6, 5.0, 50.0, 122.0, 7.0)
    assert numbers(days[("cpu", DAY + timedelta(days=1))]) == (1, 40.0, 40.0, 40.0, 40.0)
    assert target.latest_rollup_start("us-east", "1m") == at(1440 + 600)


def test_it_leaves_out_a_bucket_whose_sum_is_beyond_a_float_and_rolls_up_the_rest(store: MetricStore) -> None:
    # Two finite samples summing past 1.8e308 raised OverflowError: the source's rollup run failed there, and
    # every later one (each resumes at that minute), so its retention never pruned its raw history again.
    record(store, 600.0, 1e308)
    record(store, 600.5, 1.5e308, up=False)
    record(store, 602.0, 10.0)
    target = rollup_store(store)
    roll_up(target, "us-east")
    minutes = {(b.metric, b.start): b for b in target.rollups("us-east", "1m")}
    assert ("cpu", at(600)) not in minutes
    assert numbers(minutes[("up", at(600))]) == (2, 0.0, 1.0, 1.0, 0.0)
    assert numbers(minutes[("cpu", at(602))]) == (1, 10.0, 10.0, 10.0, 10.0)
    hours = {(b.metric, b.start): b for b in target.rollups("us-east", "1h")}
    assert numbers(hours[("cpu", at(600))]) == (1, 10.0, 10.0, 10.0, 10.0)
    assert target.latest_rollup_start("us-east", "1m") == at(602)


def test_it_gives_the_same_rollups_when_run_again(store: MetricStore) -> None:
    fill(store)
    target = rollup_store(store)
    roll_up(target, "us-east")
    first = {tier: target.rollups("us-east", tier) for tier in ("1m", "1h", "1d")}
    roll_up(target, "us-east")
    # Writing the same buckets again (a crash and rerun) replaces them in place.
    target.write_rollups(first["1m"])
    assert {tier: target.rollups("us-east", tier) for tier in ("1m", "1h", "1d")} == first


def test_it_updates_the_open_bucket_as_new_samples_arrive(store: MetricStore) -> None:
    target = rollup_store(store)
    record(store, 600.0, 10.0)
    roll_up(target, "us-east")
    record(store, 600.5, 30.0)
    record(store, 601.0, 50.0)
    roll_up(target, "us-east")
    minutes = {(b.metric, b.start): b for b in target.rollups("us-east", "1m", metric="cpu")}
    assert numbers(minutes[("cpu", at(600))]) == (2, 10.0, 30.0, 40.0, 30.0)
    assert numbers(minutes[("cpu", at(601))]) == (1, 50.0, 50.0, 50.0, 50.0)
    (hour,) = target.rollups("us-east", "1h", metric="cpu")
    assert numbers(hour) == (3, 10.0, 50.0, 90.0, 50.0)


def test_it_answers_series_from_rollups_once_raw_data_is_pruned(store: MetricStore) -> None:
    fill(store)
    target = rollup_store(store)
    roll_up(target, "us-east")
    raw_answer = store.series("us-east", "cpu", at(0), at(2880), timedelta(hours=1))
    # Raw data for the first day goes; the 1-minute rollups stay.
    store.prune("us-east", at(1440))
    after_prune = store.series("us-east", "cpu", at(0), at(2880), timedelta(hours=1))
    assert [(b.start, b.count, b.min, b.max, b.avg) for b in after_prune] == [
        (b.start, b.count, b.min, b.max, b.avg) for b in raw_answer
    ]
    # 1-minute rollups go too: the hourly ones still answer an hourly chart exactly.
    target.prune_rollups("us-east", "1m", at(1440))
    hourly = store.series("us-east", "cpu", at(0), at(2880), timedelta(hours=1))
    assert [(b.start, b.count, b.min, b.max) for b in hourly] == [(b.start, b.count, b.min, b.max) for b in raw_answer]
    assert hourly[0].avg == pytest.approx(23.0)
    # Only daily rollups left: a daily chart still has the day's numbers.
    target.prune_rollups("us-east", "1h", at(1440))
    daily = store.series("us-east", "cpu", at(0), at(2880), timedelta(days=1))
    assert [(b.start, b.count, b.min, b.max) for b in daily] == [(DAY, 6, 5.0, 50.0), (at(1440), 1, 40.0, 40.0)]


def test_it_keeps_answering_recent_ranges_from_raw_data(store: MetricStore) -> None:
    fill(store)
    target = rollup_store(store)
    roll_up(target, "us-east")
    # Make the rollups disagree with raw data: a range raw data covers must not read them.
    target.write_rollups([b.__class__(**{**b.__dict__, "max": 999.0}) for b in target.rollups("us-east", "1m")])
    series = store.series("us-east", "cpu", at(600), at(700), timedelta(minutes=1))
    assert max(b.max for b in series) == 50.0


def test_it_forgets_rollups_with_the_source(store: MetricStore) -> None:
    fill(store)
    target = rollup_store(store)
    roll_up(target, "us-east")
    store.delete_source("us-east")
    assert target.rollups("us-east", "1m") == []
    assert target.latest_rollup_start("us-east", "1h") is None


def test_it_reads_one_metric_of_many_sources_by_range_or_at_chosen_starts(store: MetricStore) -> None:
    target = rollup_store(store)
    hours = [DAY + timedelta(hours=h) for h in range(6)]
    target.write_rollups(
        [
            RollupBucket(source, metric, "1h", start, 1, value, value, value, value, start)
            for source, value in (("us-east", 1.0), ("eu-west", 2.0), ("ap-south", 3.0))
            for metric in ("cpu", "wait")
            for start in hours
        ]
    )

    ranged = target.rollups_of(["us-east", "eu-west"], "1h", "cpu", start=hours[1], end=hours[3])
    assert [(b.source, b.metric, b.start, b.sum) for b in ranged] == [
        ("eu-west", "cpu", hours[1], 2.0),
        ("eu-west", "cpu", hours[2], 2.0),
        ("us-east", "cpu", hours[1], 1.0),
        ("us-east", "cpu", hours[2], 1.0),
    ]
    chosen = target.rollups_of(["ap-south", "us-east", "gone"], "1h", "wait", starts=[hours[5], hours[0]])
    assert [(b.source, b.start) for b in chosen] == [
        ("ap-south", hours[0]),
        ("ap-south", hours[5]),
        ("us-east", hours[0]),
        ("us-east", hours[5]),
    ]
    assert target.rollups_of([], "1h", "cpu") == []
    assert target.rollups_of(["us-east"], "1h", "cpu", starts=[]) == []


def test_it_counts_good_minutes_in_the_store_as_reading_every_minute_out_does(store: MetricStore) -> None:
    # A metric objective's good minutes were counted over every 1-minute bucket read out (43,200 a source over
    # 30 days); counted in the store they must be the same numbers: means on both sides of and at the bound,
    # a mean whose division rounds (0.3 / 3 is just under 0.1), spans whose edges fall mid-hour, pruned minutes.
    target = rollup_store(store)
    minutes = [DAY + timedelta(minutes=m) for m in range(0, 600, 7)]
    sums = [(0.3, 3), (0.1, 1), (99.0, 1), (100.0, 1), (101.0, 1), (250.0, 2), (200.0, 2)]
    target.write_rollups(
        [
            RollupBucket(source, "wait", "1m", start, count, total, total, total, total, start)
            for shift, source in enumerate(("us-east", "eu-west"))
            for index, start in enumerate(minutes)
            for total, count in [sums[(index + shift) % len(sums)]]
        ]
    )
    target.prune_rollups("eu-west", "1m", DAY + timedelta(hours=2))  # on an hour, as retention does
    spans = [
        (DAY, DAY + timedelta(hours=10)),
        (DAY + timedelta(minutes=95), DAY + timedelta(minutes=430)),  # mid-hour at both ends
        (DAY + timedelta(minutes=30), DAY + timedelta(minutes=150)),  # across the pruned edge
        (DAY + timedelta(hours=20), DAY + timedelta(hours=21)),  # nothing stored
    ]
    sources = ["us-east", "eu-west", "gone"]
    for comparison, bound in ((">", 100.0), (">=", 100.0), ("<", 0.1), ("<=", 0.1), ("<", 100.0)):
        read_out = target.rollups_of(sources, "1m", "wait", start=DAY, end=DAY + timedelta(days=1))
        expected = [
            (sum(b.count > 0 and MEETS[comparison](b.avg, bound) for b in inside), len(inside))
            for low, high in spans
            for inside in [[b for b in read_out if low <= b.start < high]]
        ]
        assert target.good_minutes_of(sources, "wait", comparison, bound, spans) == expected, (comparison, bound)
    assert target.good_minutes_of([], "wait", "<", 1.0, spans) == [(0, 0)] * len(spans)
    assert target.good_minutes_of(sources, "wait", "<", 1.0, []) == []
