"""Retention of availability buckets: each tier pruned at its policy's horizon, never shorter than
the uptime windows read, on every store (SQLite, PostgreSQL, MongoDB); a shorter policy is refused
at save."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from metrics.lifecycle.models import Retention, RetentionPolicy
from metrics.lifecycle.retention import apply_retention
from metrics.stores.base import MetricStore
from tests.factories import make_source
from tests.metrics.support import NOON

SLUG = "us-east"
NOW = NOON  # 2026-11-29 12:00 UTC: every horizon below is worked out from it by hand


def poll_at(store: MetricStore, *ages: timedelta) -> None:
    for age in ages:
        store.record_poll_outcome(SLUG, NOW - age, True, 12.0)


def kept(store: MetricStore, tier: str, age: timedelta) -> bool:
    """Whether the tier still has the bucket holding the poll made ``age`` ago."""
    moment = NOW - age
    return bool(store.availability(SLUG, tier, moment, moment + timedelta(seconds=1), latency=False))


def retain(store: MetricStore, tmp_path: Path, retention: Retention) -> dict[str, int]:
    (report,) = apply_retention(store, tmp_path, sources=[SLUG], now=NOW, policies={SLUG: retention}, keep={})
    return report.availability_deleted


AGES = {
    "120d": timedelta(days=120),
    "50d": timedelta(days=50),
    "3d": timedelta(days=3),
    "1d": timedelta(days=1) - timedelta(minutes=5),
}


def test_it_prunes_each_tier_at_its_horizon_and_a_dry_run_only_counts(store: MetricStore, tmp_path: Path) -> None:
    poll_at(store, *AGES.values())
    policy = Retention(raw_days=1, minute_days=2, hour_days=40, day_days=100)
    # Horizons, each on a bucket of the next coarser tier:
    #   1m: NOW - 2 d = 11-27 12:00 (an hour boundary already): the 120 d, 50 d and 3 d minutes go.
    #   1h: NOW - 40 d = 10-20 12:00, floored to the day 10-20 00:00: the 120 d and 50 d hours go.
    #   1d: NOW - 100 d = 08-21 12:00, floored to 08-21 00:00: only the 120 d day goes.
    expected = {"1m": 3, "1h": 2, "1d": 1}

    (dry,) = apply_retention(store, tmp_path, sources=[SLUG], now=NOW, dry_run=True, policies={SLUG: policy}, keep={})
    assert dry.availability_deleted == expected
    assert "would delete availability buckets 1m 3, 1h 2, 1d 1" in dry.summary()  # what `prune --dry-run` prints
    assert all(kept(store, tier, age) for tier in expected for age in AGES.values())

    assert retain(store, tmp_path, policy) == expected
    survivors = {tier: {name for name, age in AGES.items() if kept(store, tier, age)} for tier in expected}
    assert survivors == {"1m": {"1d"}, "1h": {"3d", "1d"}, "1d": {"50d", "3d", "1d"}}
    assert retain(store, tmp_path, policy) == {"1m": 0, "1h": 0, "1d": 0}  # nothing older is left


def test_it_keeps_day_buckets_forever_by_default_and_every_window_whole(store: MetricStore, tmp_path: Path) -> None:
    poll_at(store, *AGES.values())
    deleted = retain(store, tmp_path, Retention())  # raw 7 d, minutes 30 d, hours 365 d, days forever
    # Minutes older than 30 d (the 120 d and 50 d ones) go; no hour is older than 365 d; days stay.
    assert deleted == {"1m": 2, "1h": 0}
    assert kept(store, "1d", AGES["120d"])
    summary = store.uptime_summary(SLUG, NOW)
    assert {name: window.polls for name, window in summary.items()} == {"24h": 1, "7d": 2, "30d": 2, "90d": 3}


def test_it_never_prunes_what_the_uptime_windows_read(
    store: MetricStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A policy that bypassed validation (built in code, or a row older than the check).
    short = Retention(raw_days=1, minute_days=1, hour_days=3, day_days=5)
    poll_at(store, timedelta(days=10), timedelta(days=29), timedelta(days=35), timedelta(days=89), timedelta(days=95))
    with caplog.at_level(logging.WARNING, logger="metrics.lifecycle.retention"):
        deleted = retain(store, tmp_path, short)
    # Clamped to 30 d of hours (10-30 12:00 -> 10-30 00:00: the 35, 89 and 95 d hours go) and 90 d
    # of days (08-31 12:00 -> 08-31 00:00: only the 95 d day goes).
    assert (deleted["1h"], deleted["1d"]) == (3, 1)
    assert kept(store, "1h", timedelta(days=29))
    assert not kept(store, "1h", timedelta(days=35))
    assert kept(store, "1d", timedelta(days=89))
    assert not kept(store, "1d", timedelta(days=95))
    assert store.uptime_summary(SLUG, NOW)["30d"].polls == 2
    assert "less than the uptime windows read" in caplog.text


@pytest.mark.django_db
def test_it_refuses_a_policy_shorter_than_the_uptime_windows_at_save() -> None:
    with pytest.raises(ValidationError) as caught:
        RetentionPolicy(source=make_source(SLUG), raw_days=1, minute_days=1, hour_days=20, day_days=60).full_clean()
    errors = caught.value.message_dict
    assert set(errors) == {"hour_days", "day_days"}
    assert any("at least 30 day(s): uptime over 7d, 30d" in message for message in errors["hour_days"])
    assert any("at least 90 day(s): uptime over 90d" in message for message in errors["day_days"])
    RetentionPolicy(source=make_source("eu-west")).full_clean()  # the defaults keep every window
    RetentionPolicy(source=make_source("ap-south"), minute_days=1, hour_days=30, day_days=90).full_clean()
