"""SLO arithmetic (metrics.slo) on worked examples after the SRE workbook's chapter "Alerting on SLOs",
each computed by hand in the comments; and the errors bad input gets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from metrics.slo import (
    STANDARD_CONDITIONS,
    BurnRateCondition,
    Counts,
    NoData,
    Objective,
    SloError,
    attainment,
    budget_consumed,
    burn_rate,
    decide,
    error_ratio,
    remaining_budget,
)

THIRTY_DAYS = timedelta(days=30)
TARGET = Objective.of(99.9)


def test_it_gives_a_99_9_percent_target_a_budget_of_0_1_percent_exactly() -> None:
    # 100 % - 99.9 % = 0.1 % = 1/1000 of events may be bad; the float 99.9 is read as the decimal 99.9.
    assert TARGET.error_budget == Fraction(1, 1000)
    assert Objective.of("99.9") == Objective.of(Decimal("99.9")) == TARGET
    # 99.99 %: 1/10,000; 95 %: 1/20.
    assert Objective.of(99.99).error_budget == Fraction(1, 10_000)
    assert Objective.of(95).error_budget == Fraction(1, 20)


def test_it_burns_at_14_4_when_an_hour_has_1_44_percent_errors() -> None:
    # 144 bad of 10,000 = 1.44 %; 1.44 % / 0.1 % = 14.4, exactly (no float rounding below 14.4).
    hour = Counts(good=10_000 - 144, total=10_000)
    assert error_ratio(hour) == Fraction(144, 10_000)
    assert burn_rate(hour, TARGET) == Fraction(144, 10)
    # One bad poll fewer: 1.43 % -> 14.3.
    assert burn_rate(Counts(good=10_000 - 143, total=10_000), TARGET) == Fraction(143, 10)
    # No errors burn nothing; all bad burns at 1 / budget = 1,000.
    assert burn_rate(Counts(good=50, total=50), TARGET) == 0
    assert burn_rate(Counts(good=0, total=50), TARGET) == 1000


def test_it_spends_2_5_and_10_percent_of_a_30_day_budget_at_the_standard_pairs() -> None:
    # Budget spent = rate x window / period.
    # 14.4 x 1 h / 720 h = 14.4 / 720 = 0.02: 2 % in one hour (the whole budget in 720 / 14.4 = 50 h).
    assert budget_consumed(14.4, timedelta(hours=1), THIRTY_DAYS) == Fraction(2, 100)
    # 6 x 6 h / 720 h = 36 / 720 = 0.05: 5 %.
    assert budget_consumed(6, timedelta(hours=6), THIRTY_DAYS) == Fraction(5, 100)
    # 1 x 72 h / 720 h = 0.1: 10 %.
    assert budget_consumed(1, timedelta(days=3), THIRTY_DAYS) == Fraction(10, 100)
    # The constants are those pairs.
    pairs = [(c.long_window, c.short_window, c.threshold, c.severity) for c in STANDARD_CONDITIONS]
    assert pairs == [("1h", "5m", Fraction(72, 5), "page"), ("6h", "30m", 6, "page"), ("3d", "6h", 1, "ticket")]


def test_it_gives_attainment_and_the_remaining_budget_over_the_slo_window() -> None:
    # A poll every 30 s for 30 days: 2 x 60 x 24 x 30 = 86,400 polls; the budget is 86,400 / 1000
    # = 86.4 bad polls.
    # 43 bad: attainment 86,357 / 86,400 = 99.950 %; spent 43 / 86.4 = 430/864; left 434/864 = 217/432
    # (50.2 %).
    month = Counts(good=86_400 - 43, total=86_400)
    assert attainment(month) == Fraction(86_357, 86_400)
    assert float(attainment(month)) * 100 == pytest.approx(99.9502, abs=1e-4)
    assert remaining_budget(month, TARGET) == Fraction(217, 432)
    # Exactly the budget (86.4 is not a whole poll: 864 bad of 864,000): nothing left, target met.
    assert remaining_budget(Counts(good=864_000 - 864, total=864_000), TARGET) == 0
    # 130 bad: spent 1300/864, left 1 - 1300/864 = -436/864 = -109/216 (overspent by half a budget).
    overspent = Counts(good=86_400 - 130, total=86_400)
    assert remaining_budget(overspent, TARGET) == Fraction(-109, 216)
    assert attainment(overspent) < TARGET.target


def polls(total: int, bad: int) -> Counts:
    return Counts(good=total - bad, total=total)


def test_it_pages_on_a_fast_burn_and_stops_as_soon_as_the_short_window_is_clean() -> None:
    # A poll every 30 s: 1 h = 120 polls, 5 m = 10, 6 h = 720, 30 m = 60, 3 d = 8,640.
    # Two failed polls in the last hour, one of them in the last 5 minutes:
    #   1 h: 2/120 = 1.667 % -> 16.67x >= 14.4;   5 m: 1/10 = 10 % -> 100x >= 14.4: page.
    #   6 h: 2/720 = 0.278 % -> 2.78x < 6;        3 d: 2/8640 -> 0.23x < 1.
    windows = {
        "1h": polls(120, 2),
        "5m": polls(10, 1),
        "6h": polls(720, 2),
        "30m": polls(60, 1),
        "3d": polls(8640, 2),
    }
    decision = decide(windows, TARGET)
    assert [r.firing for r in decision.results] == [True, False, False]
    assert decision.results[0].long_rate == Fraction(2, 120) * 1000  # 50/3 = 16.67
    assert decision.severity == "page"
    # Five minutes later the failures stopped: the 1 h window still burns at 16.67x, the 5 m one at 0,
    # so the alert resolves now instead of an hour from now.
    windows["5m"] = polls(10, 0)
    decision = decide(windows, TARGET)
    assert decision.firing == ()
    assert decision.severity is None


def test_it_fires_at_exactly_the_threshold_and_not_below() -> None:
    # 1 h: 144/10,000 -> 14.4x; 5 m: 15/1,000 -> 15x: both meet 14.4.
    at_threshold = {"1h": polls(10_000, 144), "5m": polls(1_000, 15)}
    fast = STANDARD_CONDITIONS[:1]
    assert decide(at_threshold, TARGET, fast).severity == "page"
    # 143/10,000 -> 14.3x in the long window: a significant burn is not proven, no page.
    assert decide({**at_threshold, "1h": polls(10_000, 143)}, TARGET, fast).firing == ()


def test_it_opens_a_ticket_on_a_slow_burn() -> None:
    # 3 d: 9/8,640 = 0.104 % -> 1.04x >= 1;  6 h: 1/720 = 0.139 % -> 1.39x >= 1: ticket.
    # 6 h: 1.39x < 6 and 1 h: 0 < 14.4: no page.
    windows = {
        "1h": polls(120, 0),
        "5m": polls(10, 0),
        "6h": polls(720, 1),
        "30m": polls(60, 0),
        "3d": polls(8640, 9),
    }
    decision = decide(windows, TARGET)
    assert [r.condition.severity for r in decision.firing] == ["ticket"]
    assert decision.severity == "ticket"
    # With a 99 % target (budget 1 %) the same failures burn ten times slower: 0.104x, nothing fires.
    assert decide(windows, Objective.of(99)).firing == ()


def test_it_ranks_a_page_above_a_ticket() -> None:
    windows = {"1h": polls(120, 60), "5m": polls(10, 5), "6h": polls(720, 360), "30m": polls(60, 30)}
    windows["3d"] = polls(8640, 360)
    assert len(decide(windows, TARGET).firing) == 3
    assert decide(windows, TARGET).severity == "page"
    custom = (BurnRateCondition("1h", "5m", Fraction(2), "email"),)
    assert decide(windows, TARGET, custom).severity == "email"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [100, 100.0, "100", 0, -1, 100.5, Decimal("100.000")])
def test_it_refuses_a_target_outside_0_to_100_percent(target: Any) -> None:
    with pytest.raises(SloError, match="above 0 % and below 100 %"):
        Objective.of(target)


@pytest.mark.parametrize("target", [float("nan"), float("inf"), Decimal("NaN"), "ninety", True, None, [99]])
def test_it_refuses_a_target_that_is_not_a_finite_number(target: Any) -> None:
    with pytest.raises(SloError, match="target must be a"):
        Objective.of(target)


@pytest.mark.parametrize(
    ("good", "total", "message"),
    [
        (-1, 5, "good must be a whole number"),
        (1, -5, "total must be a whole number"),
        (1.5, 2, "good must be a whole number"),
        (6, 5, r"good \(6\) cannot exceed total \(5\)"),
    ],
)
def test_it_refuses_impossible_counts(good: Any, total: Any, message: str) -> None:
    with pytest.raises(SloError, match=message):
        Counts(good=good, total=total)


def test_it_refuses_a_rate_of_an_empty_window_and_names_it() -> None:
    with pytest.raises(NoData, match="no events in the 5m window"):
        decide({"1h": polls(120, 2), "5m": Counts(0, 0)}, TARGET, STANDARD_CONDITIONS[:1])
    with pytest.raises(NoData):
        remaining_budget(Counts(0, 0), TARGET)
    with pytest.raises(NoData):
        attainment(Counts(0, 0))


def test_it_names_a_missing_window_and_refuses_no_conditions() -> None:
    with pytest.raises(SloError, match="the 5m window is needed and was not given"):
        decide({"1h": polls(120, 2)}, TARGET)
    with pytest.raises(SloError, match="no burn-rate conditions"):
        decide({"1h": polls(120, 2)}, TARGET, ())
    with pytest.raises(SloError, match="positive"):
        budget_consumed(1, timedelta(0), THIRTY_DAYS)
