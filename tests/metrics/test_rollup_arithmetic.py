"""Rollup arithmetic against hand-computed buckets; tier choice; regrouping into series buckets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from metrics.rollups import aggregate_samples, bucket_start, cascade, finest_covering_tier, to_series

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


SAMPLES = [
    # minute 10:00
    (at(0.0), {"cpu": 10.0, "up": 1.0}),
    (at(0.25), {"cpu": 30.0, "up": 1.0}),
    (at(0.5), {"cpu": 20.0, "up": 0.0}),
    # minute 10:01
    (at(1.0), {"cpu": 50.0}),
    # minute 10:59
    (at(59.9), {"cpu": 5.0, "up": 1.0}),
    # 11:00, the next hour
    (at(60.0), {"cpu": 7.0}),
]


def by_key(buckets):  # type: ignore[no-untyped-def]
    return {(b.metric, b.start): b for b in buckets}


def test_it_rolls_raw_samples_into_minute_buckets() -> None:
    minutes = by_key(aggregate_samples("us-east", SAMPLES))
    cpu_first = minutes[("cpu", at(0))]
    assert (cpu_first.count, cpu_first.min, cpu_first.max, cpu_first.sum, cpu_first.last) == (3, 10.0, 30.0, 60.0, 20.0)
    assert cpu_first.avg == 20.0
    assert cpu_first.tier == "1m"
    assert cpu_first.source == "us-east"
    up_first = minutes[("up", at(0))]
    assert (up_first.count, up_first.min, up_first.max, up_first.sum, up_first.last) == (3, 0.0, 1.0, 2.0, 0.0)
    assert (minutes[("cpu", at(1))].count, minutes[("cpu", at(1))].last) == (1, 50.0)
    assert ("up", at(1)) not in minutes  # no sample, no bucket
    assert len(minutes) == 6  # cpu: 10:00, 10:01, 10:59, 11:00; up: 10:00, 10:59


def test_it_cascades_minutes_into_hours_and_hours_into_days() -> None:
    minutes = aggregate_samples("us-east", SAMPLES)
    hours = by_key(cascade(minutes, "1h"))
    cpu_ten = hours[("cpu", at(0))]
    # 10:00-10:59: 10, 30, 20, 50, 5
    assert (cpu_ten.count, cpu_ten.min, cpu_ten.max, cpu_ten.sum, cpu_ten.last) == (5, 5.0, 50.0, 115.0, 5.0)
    cpu_eleven = hours[("cpu", at(60))]
    assert (cpu_eleven.count, cpu_eleven.sum, cpu_eleven.last) == (1, 7.0, 7.0)
    up_ten = hours[("up", at(0))]
    assert (up_ten.count, up_ten.min, up_ten.max, up_ten.sum, up_ten.last) == (4, 0.0, 1.0, 3.0, 1.0)

    days = by_key(cascade(list(hours.values()), "1d"))
    cpu_day = days[("cpu", datetime(2026, 11, 29, tzinfo=UTC))]
    assert (cpu_day.count, cpu_day.min, cpu_day.max, cpu_day.sum, cpu_day.last) == (6, 5.0, 50.0, 122.0, 7.0)
    assert cpu_day.tier == "1d"


def test_it_refuses_to_cascade_from_the_wrong_tier() -> None:
    minutes = aggregate_samples("us-east", SAMPLES)
    with pytest.raises(ValueError, match="1d buckets are computed from 1h"):
        cascade(minutes, "1d")


def test_it_gives_the_same_numbers_whatever_the_order() -> None:
    """Idempotent: recomputing a bucket from the same inputs, shuffled, is bit-for-bit the same."""
    rng = random.Random(7)
    samples = [(at(rng.uniform(0, 180)), {"v": rng.uniform(-1e6, 1e6) / 3}) for _ in range(500)]
    reference = aggregate_samples("s", samples)
    hours = cascade(reference, "1h")
    for _ in range(5):
        rng.shuffle(samples)
        again = aggregate_samples("s", samples)
        assert again == reference
        shuffled = list(again)
        rng.shuffle(shuffled)
        assert cascade(shuffled, "1h") == hours


def test_it_aligns_buckets_since_the_epoch() -> None:
    moment = datetime(2026, 11, 29, 13, 47, 31, 500000, tzinfo=UTC)
    assert bucket_start(moment, "1m") == datetime(2026, 11, 29, 13, 47, tzinfo=UTC)
    assert bucket_start(moment, "1h") == datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
    assert bucket_start(moment, "1d") == datetime(2026, 11, 29, tzinfo=UTC)


class TestTierChoice:
    NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def days_ago(self, days: float) -> datetime:
        return self.NOW - timedelta(days=days)

    def coverage(self) -> dict[str, datetime | None]:
        # What the default policy leaves after a year and more: raw 7 days, 1m 30, 1h 365, 1d all.
        return {"raw": self.days_ago(7), "1m": self.days_ago(30), "1h": self.days_ago(365), "1d": self.days_ago(900)}

    @pytest.mark.parametrize(
        ("days_back", "tier"),
        [(0.01, "raw"), (6.9, "raw"), (7.1, "1m"), (29.9, "1m"), (31, "1h"), (364, "1h"), (366, "1d"), (3650, "1d")],
    )
    def test_it_picks_the_finest_tier_that_covers_the_range(self, days_back: float, tier: str) -> None:
        assert finest_covering_tier(self.days_ago(days_back), self.coverage()) == tier

    def test_it_uses_raw_data_while_rollups_are_not_computed_yet(self) -> None:
        only_raw = {"raw": self.days_ago(3), "1m": None, "1h": None, "1d": None}
        assert finest_covering_tier(self.days_ago(30), only_raw) == "raw"

    def test_it_treats_a_young_source_by_the_data_it_has(self) -> None:
        # Two days old, everything rolled up: a 30-day chart has nothing older than two days anyway.
        young = {"raw": self.days_ago(2), "1m": self.days_ago(2), "1h": self.days_ago(2), "1d": self.days_ago(2)}
        assert finest_covering_tier(self.days_ago(30), young) == "raw"
        # Raw pruned to a day, rollups going back two: the 1-minute tier covers what there is.
        pruned = {"raw": self.days_ago(1), "1m": self.days_ago(2), "1h": self.days_ago(2), "1d": self.days_ago(2)}
        assert finest_covering_tier(self.days_ago(30), pruned) == "1m"

    def test_it_does_not_mistake_a_coarse_bucket_start_for_older_data(self) -> None:
        day = datetime(2026, 11, 20, tzinfo=UTC)
        # Data since 10:00; the day bucket starts at midnight; finer tiers pruned up to the next day.
        oldest = {
            "raw": day + timedelta(days=1, hours=10),
            "1m": day + timedelta(days=1, hours=10),
            "1h": day + timedelta(hours=10),
            "1d": day,
        }
        assert finest_covering_tier(day, oldest) == "1h"
        assert finest_covering_tier(day + timedelta(hours=12), oldest) == "1h"
        assert finest_covering_tier(day + timedelta(days=1, hours=11), oldest) == "raw"
        # The hourly tier pruned into a later day: only the daily tier knows that day.
        oldest["1h"] = day + timedelta(days=1)
        assert finest_covering_tier(day, oldest) == "1d"

    def test_it_answers_raw_for_a_metric_with_no_data(self) -> None:
        assert finest_covering_tier(self.days_ago(30), {"raw": None, "1m": None}) == "raw"


def test_it_regroups_rollups_into_series_buckets() -> None:
    minutes = aggregate_samples("us-east", SAMPLES)
    cpu = [b for b in minutes if b.metric == "cpu"]
    series = to_series(cpu, at(0), at(120), timedelta(hours=1))
    assert [(s.start, s.count, s.min, s.max) for s in series] == [(at(0), 5, 5.0, 50.0), (at(60), 1, 7.0, 7.0)]
    assert series[0].avg == 23.0
    # Buckets outside the asked range are left out.
    assert [s.start for s in to_series(cpu, at(1), at(59), timedelta(minutes=1))] == [at(1)]
    with pytest.raises(ValueError, match="positive"):
        to_series(cpu, at(0), at(1), timedelta(0))


def test_it_leaves_out_a_series_bucket_whose_sum_is_beyond_a_float() -> None:
    # Two minutes of 1e308 in one chart bucket raised OverflowError (a 500 on the chart); the other buckets stay.
    samples = [(at(0.0), {"cpu": 1e308}), (at(1.0), {"cpu": 1e308}), (at(60.0), {"cpu": 7.0})]
    cpu = aggregate_samples("us-east", samples)
    assert [(s.start, s.avg) for s in to_series(cpu, at(0), at(120), timedelta(hours=1))] == [(at(60), 7.0)]
