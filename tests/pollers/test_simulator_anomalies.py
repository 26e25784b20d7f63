"""Labelled anomalies injected into a replayed hourly history (pollers.simulator.anomalies): the labels
mark exactly the injected hours, each kind changes its hours as documented, and bad injections are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from metrics.anomaly import seasonal_scores
from metrics.defaults import REGIONS
from pollers.simulator.anomalies import HOUR, Injection, InjectionError, expected, histories, history

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, midnight
DAYS_14 = 14 * 24


def test_it_replays_14_days_of_6_regions_deterministically_with_daily_and_weekly_seasonality() -> None:
    regions = list(REGIONS)[:6]
    one = history(regions, "cpu_load", START, DAYS_14, seed=7)
    assert one.values.shape == (6, DAYS_14)
    assert one.times[0] == START
    assert one.times[-1] == START + (DAYS_14 - 1) * HOUR
    assert not one.labels.any()
    np.testing.assert_array_equal(one.values, history(regions, "cpu_load", START, DAYS_14, seed=7).values)
    assert not np.array_equal(one.values, history(regions, "cpu_load", START, DAYS_14, seed=8).values)
    # Noise stays near 3 %: the relative error to the noiseless value has a standard deviation of about 0.03.
    relative = one.values[0] / expected(regions[0], "cpu_load", one.times) - 1
    assert 0.02 < relative.std() < 0.04
    # Weekends (days 5, 6) run at 75 % of weekdays; hours of the day differ by the daily wave.
    clean = expected(regions[0], "cpu_load", one.times)
    assert clean[5 * 24 + 10] == pytest.approx(0.75 * clean[10])
    assert clean[:24].max() > 1.3 * clean[:24].min()
    # Regions differ in level (payload.character): the six daily means are not all alike.
    assert np.ptp(one.values.mean(axis=1)) > 5


def test_it_labels_exactly_the_injected_hours_and_changes_them_by_kind() -> None:
    regions = list(REGIONS)[:6]
    clean = history(regions, "wait_time", START, DAYS_14, seed=3)
    spike = Injection(regions[1], "wait_time", "spike", START + 30 * HOUR, 2, 1.0)
    shift = Injection(regions[2], "wait_time", "level_shift", START + 100 * HOUR, 12, 0.5)
    drift = Injection(regions[2], "wait_time", "drift", START + 200 * HOUR, 4, 0.8)
    injected = history(regions, "wait_time", START, DAYS_14, [spike, shift, drift], seed=3)
    assert injected.labels.sum() == 2 + 12 + 4
    assert injected.labels[1, 30:32].all()
    assert injected.labels[2, 100:112].all()
    assert injected.labels[2, 200:204].all()
    ratio = injected.values / clean.values
    # Spike doubles (+100 %); the shift holds +50 %; the drift grows 0.2, 0.4, 0.6, 0.8 (0.8 x k / 4).
    np.testing.assert_allclose(ratio[1, 30:32], 2.0)
    np.testing.assert_allclose(ratio[2, 100:112], 1.5)
    np.testing.assert_allclose(ratio[2, 200:204], [1.2, 1.4, 1.6, 1.8])
    # Every unlabelled hour is untouched.
    np.testing.assert_array_equal(injected.values[~injected.labels], clean.values[~injected.labels])
    points = injected.points(regions[1])
    assert [p.at for p in points if p.is_anomaly] == [START + 30 * HOUR, START + 31 * HOUR]
    assert points[30].value == pytest.approx(2 * clean.values[1, 30])


def test_it_sends_each_injection_to_its_metric() -> None:
    regions = list(REGIONS)[:4]
    spike = Injection(regions[0], "cpu_load", "spike", START + 5 * HOUR, 1, 0.6)
    both = histories(regions, START, 48, [spike], seed=1)
    assert both["cpu_load"].labels.sum() == 1
    assert both["wait_time"].labels.sum() == 0


@pytest.mark.parametrize(
    ("injection", "message"),
    [
        (Injection("nowhere", "cpu_load", "spike", START, 1, 1.0), "not in the history"),
        (Injection("eu-west", "cpu_load", "wobble", START, 1, 1.0), "unknown kind"),
        (Injection("eu-west", "wait_time", "spike", START, 1, 1.0), "given to the history"),
        (Injection("eu-west", "cpu_load", "spike", START, 0, 1.0), "at least one hour"),
        (Injection("eu-west", "cpu_load", "spike", START, 1, -1.0), "above -1"),
        (Injection("eu-west", "cpu_load", "spike", START, 1, float("nan")), "finite"),
        (Injection("eu-west", "cpu_load", "spike", START - HOUR, 1, 1.0), "inside the history"),
        (Injection("eu-west", "cpu_load", "spike", START + 47 * HOUR, 2, 1.0), "inside the history"),
        (Injection("eu-west", "cpu_load", "spike", START + timedelta(minutes=30), 1, 1.0), "on an hour"),
    ],
)
def test_it_refuses_an_injection_it_cannot_place(injection: Injection, message: str) -> None:
    with pytest.raises(InjectionError, match=message):
        history(["eu-west", "us-east", "sa-east"], "cpu_load", START, 48, [injection])


def test_it_refuses_overlapping_injections_and_bad_histories() -> None:
    first = Injection("eu-west", "cpu_load", "level_shift", START + 2 * HOUR, 5, 0.5)
    second = Injection("eu-west", "cpu_load", "spike", START + 4 * HOUR, 1, 1.0)
    with pytest.raises(InjectionError, match="overlap"):
        history(["eu-west"], "cpu_load", START, 48, [first, second])
    with pytest.raises(InjectionError, match="unknown metric"):
        history(["eu-west"], "memory", START, 48)
    with pytest.raises(InjectionError, match="distinct"):
        history(["eu-west", "eu-west"], "cpu_load", START, 48)
    with pytest.raises(InjectionError, match="on the hour"):
        history(["eu-west"], "cpu_load", START.replace(tzinfo=None), 48)
    with pytest.raises(InjectionError, match="at least 1"):
        history(["eu-west"], "cpu_load", START, 0)


def test_it_gives_the_seasonal_detector_an_injected_level_shift_to_find_and_nothing_else() -> None:
    # Four clean weeks, then a fifth with a +50 % level shift over 12 hours in one region: the
    # detector (metrics.anomaly) flags the shifted hours and, at 3 % noise against a 17.5 % floor, none other.
    regions = list(REGIONS)[:6]
    hours = 5 * 168
    shift = Injection(regions[4], "cpu_load", "level_shift", START + (4 * 168 + 50) * HOUR, 12, 0.5)
    replay = history(regions, "cpu_load", START, hours, [shift], seed=11)
    flagged = seasonal_scores(replay.values).flagged
    np.testing.assert_array_equal(flagged, replay.labels)
