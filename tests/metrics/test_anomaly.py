"""Anomaly detection (metrics.anomaly) on worked examples computed by hand in the comments; the batch
functions agree with the one-value functions; and the errors bad input gets."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from metrics.anomaly import (
    ABSOLUTE_FLOOR,
    HOURS_PER_WEEK,
    AnomalyError,
    NoBaseline,
    latest_seasonal_scores,
    peer_score,
    peer_scores,
    robust_score,
    seasonal_baseline,
    seasonal_score,
    seasonal_scores,
)


def test_it_flags_a_spike_against_a_noisy_baseline_where_the_mad_is_above_the_floor() -> None:
    # [10, 14, 6, 12, 8]: median 10; |x - 10| = 0, 4, 4, 2, 2 -> sorted 0, 2, 2, 4, 4 -> MAD 2.
    # Scale = max(1.4826 x 2, 5 % of 10) = max(2.9652, 0.5) = 2.9652.
    baseline = [10.0, 14.0, 6.0, 12.0, 8.0]
    spike = robust_score(21, baseline)
    assert spike.median == 10
    assert spike.scale == pytest.approx(2.9652)
    # (21 - 10) / 2.9652 = 3.7097 > 3.5: flagged; (20 - 10) / 2.9652 = 3.3725: not flagged.
    assert spike.z == pytest.approx(3.7097, abs=1e-4)
    assert spike.flagged
    below = robust_score(20, baseline)
    assert below.z == pytest.approx(3.3725, abs=1e-4)
    assert not below.flagged
    # A dip is as unusual as a spike: (-1 - 10) / 2.9652 = -3.7097.
    dip = robust_score(-1, baseline)
    assert dip.z == pytest.approx(-3.7097, abs=1e-4)
    assert dip.flagged
    # A lower sensitivity flags the 20: 3.3725 > 3.
    assert robust_score(20, baseline, sensitivity=3).flagged


def test_it_floors_the_mad_at_5_percent_of_the_median_when_the_history_is_tight() -> None:
    # [40, 42, 38, 41]: median 40.5; deviations 0.5, 1.5, 2.5, 0.5 -> sorted 0.5, 0.5, 1.5, 2.5 -> MAD 1.0.
    # 1.4826 x 1 = 1.4826 < 5 % of 40.5 = 2.025: the floor wins.
    score = robust_score(60, [40.0, 42.0, 38.0, 41.0])
    assert score.median == 40.5
    assert score.scale == pytest.approx(2.025)
    # (60 - 40.5) / 2.025 = 9.6296: flagged; 45: 4.5 / 2.025 = 2.2222, not flagged (without the floor: 3.035).
    assert score.z == pytest.approx(9.6296, abs=1e-4)
    assert score.flagged
    assert robust_score(45, [40.0, 42.0, 38.0, 41.0]).z == pytest.approx(2.2222, abs=1e-4)


def test_it_scores_a_flat_history_without_dividing_by_zero() -> None:
    # Four weeks of exactly 50: MAD 0, scale = 5 % of 50 = 2.5.
    flat = [50.0, 50.0, 50.0, 50.0]
    assert robust_score(50, flat).z == 0
    assert not robust_score(50, flat).flagged
    # 55: 5 / 2.5 = 2, not flagged; 60: 10 / 2.5 = 4, flagged.
    assert robust_score(55, flat).z == pytest.approx(2.0)
    assert not robust_score(55, flat).flagged
    assert robust_score(60, flat).z == pytest.approx(4.0)
    assert robust_score(60, flat).flagged
    # A history of zeros: the absolute floor (1e-6) applies; 0 stays 0, any departure is flagged.
    zeros = [0.0, 0.0, 0.0]
    assert robust_score(0, zeros).z == 0
    assert not robust_score(0, zeros).flagged
    assert robust_score(1, zeros).z == pytest.approx(1 / ABSOLUTE_FLOOR)
    assert robust_score(1, zeros).flagged


def test_it_reads_the_same_hour_of_the_week_and_needs_three_weeks() -> None:
    # Hour h of a series of 3 weeks and 1 hour: value = h. Index 504 = 3 weeks: its baseline is hours 336, 168, 0.
    hourly = [float(h) for h in range(3 * HOURS_PER_WEEK + 1)]
    assert seasonal_baseline(hourly, 504) == [336.0, 168.0, 0.0]
    # weeks=2 keeps only the last two weeks.
    assert seasonal_baseline(hourly, 504, weeks=2) == [336.0, 168.0]
    # Hour 400 has only 232 and 64 before it: two weeks of history, no baseline.
    assert seasonal_baseline(hourly, 400) == [232.0, 64.0]
    with pytest.raises(NoBaseline, match="2 values, need at least 3"):
        seasonal_score(hourly, 400)
    # 504 against [336, 168, 0]: median 168, MAD 168, scale 1.4826 x 168 = 249.08; z = 336 / 249.08 = 1.349.
    score = seasonal_score(hourly, 504)
    assert score.median == 168
    assert score.z == pytest.approx(336 / (1.4826 * 168))


def test_it_flags_the_one_drifting_region_against_its_peers() -> None:
    values = {"a": 100.0, "b": 102.0, "c": 98.0, "d": 101.0, "e": 99.0, "f": 130.0}
    # f against [100, 102, 98, 101, 99]: median 100; deviations 0, 2, 2, 1, 1 -> MAD 1;
    # scale = max(1.4826, 5 % of 100 = 5) = 5; z = 30 / 5 = 6: flagged.
    drifting = peer_score("f", values)
    assert drifting.median == 100
    assert drifting.scale == 5
    assert drifting.z == 6
    assert drifting.flagged
    # a against [102, 98, 101, 99, 130]: median 101; deviations 1, 3, 0, 2, 29 -> MAD 2;
    # scale = max(2.9652, 5.05) = 5.05; z = -1 / 5.05 = -0.198: the drifting f does not drag a along.
    steady = peer_score("a", values)
    assert steady.median == 101
    assert steady.z == pytest.approx(-1 / 5.05)
    assert not steady.flagged
    # Three regions leave two peers: no baseline.
    with pytest.raises(NoBaseline, match="2 peers, need at least 3"):
        peer_score("a", {"a": 1.0, "b": 2.0, "c": 3.0})


def test_it_scores_a_whole_matrix_as_the_one_value_functions_do() -> None:
    rng = np.random.default_rng(5)
    weeks = 5
    matrix = 50 + 5 * rng.standard_normal((7, weeks * HOURS_PER_WEEK))
    matrix[3, -1] = 120.0  # a spike in source 3's latest hour
    batch = seasonal_scores(matrix)
    for source in (0, 3, 6):
        for hour in (10, 3 * HOURS_PER_WEEK - 1, 3 * HOURS_PER_WEEK + 7, matrix.shape[1] - 1):
            row = list(matrix[source])
            if hour < 3 * HOURS_PER_WEEK:
                assert math.isnan(batch.z[source, hour])
                assert not batch.flagged[source, hour]
                continue
            one = seasonal_score(row, hour)
            assert batch.z[source, hour] == pytest.approx(one.z)
            assert batch.flagged[source, hour] == one.flagged
    latest = latest_seasonal_scores(matrix)
    assert latest.z.shape == (7,)
    np.testing.assert_allclose(latest.z, batch.z[:, -1])
    assert latest.flagged[3]
    assert latest.flagged.sum() == batch.flagged[:, -1].sum()


def test_it_scores_every_region_against_its_peers_at_every_hour() -> None:
    hours = np.array([[100.0, 100.0], [102.0, 50.0], [98.0, 52.0], [101.0, 51.0], [99.0, 49.0], [130.0, 50.0]])
    scores = peer_scores(hours)
    names = "abcdef"
    for hour in range(2):
        column = {names[r]: float(hours[r, hour]) for r in range(6)}
        for r in range(6):
            assert scores.z[r, hour] == pytest.approx(peer_score(names[r], column).z)
    # Hour 0: only f (the 130) is flagged; hour 1: only a (100 among values around 50).
    assert scores.flagged[:, 0].tolist() == [False, False, False, False, False, True]
    assert scores.flagged[:, 1].tolist() == [True, False, False, False, False, False]
    with pytest.raises(NoBaseline):
        peer_scores(hours[:3])


def _with_nan_at(column: int) -> Any:
    matrix = np.full((2, 4 * HOURS_PER_WEEK + 1), 10.0)
    matrix[1, column] = np.nan
    return matrix


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: robust_score(float("nan"), [1.0, 2.0, 3.0]), "NaN or infinite"),
        (lambda: robust_score(1.0, [1.0, float("inf"), 3.0]), "NaN or infinite"),
        (lambda: robust_score(1.0, []), "0 values"),
        (lambda: robust_score(1.0, [1.0, 2.0, 3.0], sensitivity=0), "above 0"),
        (lambda: robust_score(1.0, [1.0, 2.0, 3.0], sensitivity=-1), "above 0"),
        (lambda: robust_score(1.0, [1.0, 2.0, 3.0], sensitivity=float("nan")), "above 0"),
        (lambda: robust_score(1.0, [1.0, 2.0, 3.0], sensitivity=True), "must be a number"),
        (lambda: robust_score(1.0, ["x", 2.0, 3.0]), "must be numbers"),
        (lambda: seasonal_scores(np.empty((0, 0))), "empty"),
        (lambda: seasonal_scores([1.0, 2.0]), "2 dimension"),
        (lambda: seasonal_scores([[1.0, float("nan")]]), "NaN"),
        (lambda: seasonal_scores([[1.0, 2.0]], weeks=0), "weeks must be at least 1"),
        (lambda: latest_seasonal_scores([[1.0]], sensitivity=0), "above 0"),
        (lambda: peer_scores([[1.0], [float("nan")], [1.0], [1.0]]), "NaN"),
        (lambda: latest_seasonal_scores(_with_nan_at(-1)), "NaN"),
        (lambda: latest_seasonal_scores(_with_nan_at(-1 - HOURS_PER_WEEK)), "NaN"),
        (lambda: peer_score("z", {"a": 1.0}), "has no value"),
        (lambda: seasonal_baseline([1.0], 5), "outside the series"),
    ],
)
def test_it_rejects_bad_input_with_a_clear_error(call: Any, message: str) -> None:
    with pytest.raises(AnomalyError, match=message):
        call()
