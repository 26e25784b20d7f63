"""Attainment, remaining budget and burn rates of objectives, on worked numbers, from real store reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.rollups import RollupBucket
from metrics.stores import get_store
from objectives.attainment import budget_series, measure, over_range, rollup_reader
from tests.factories import make_objective, make_source, record_outcomes

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_it_measures_a_group_in_one_store_read_with_the_workbook_numbers() -> None:
    # SRE workbook: 99.9 % over 30 days; 1.44 % errors (36 of 2,500 polls) over the last hour burns at 14.4.
    east, west = make_source("us-east"), make_source("eu-west")
    record_outcomes(east, NOW - timedelta(minutes=30), up=1232, down=18)
    record_outcomes(west, NOW - timedelta(minutes=20), up=1232, down=18)
    record_outcomes(east, NOW - timedelta(days=5), up=22500)
    objective = make_objective(sources=[east, west])

    with CaptureQueriesContext(connection) as queries:
        result = measure(objective, get_store(), NOW, slugs=["us-east", "eu-west"])

    assert len(queries) == 1  # one availability_totals_of statement for both sources and every window
    assert result.burn_rates["1h"] == pytest.approx(14.4)
    assert result.burn_rates["6h"] == pytest.approx(14.4)
    assert result.burn_rates["3d"] == pytest.approx(14.4)  # the polls of 5 days ago are older than 3 days
    assert (result.good, result.total) == (24964, 25000)
    # 36 bad against a budget of 0.1 % x 25,000 = 25: 144 % spent, -44 % left.
    assert result.remaining_budget_percent == pytest.approx(-44.0)
    assert result.attainment_percent == pytest.approx(99.856)
    assert result.met is False


def test_it_judges_a_calendar_month_from_its_first_day() -> None:
    source = make_source("us-east")
    record_outcomes(source, datetime(2026, 10, 31, 23, 0, tzinfo=UTC), down=50)  # last month: not counted
    record_outcomes(source, datetime(2026, 11, 2, 8, 0, tzinfo=UTC), up=999, down=1)
    objective = make_objective(sources=[source], window_kind="calendar", window_days=30)

    result = measure(objective, get_store(), NOW)

    assert (result.period_start, result.period_end) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert (result.good, result.total) == (999, 1000)
    assert result.remaining_budget_percent == pytest.approx(0.0)


def test_it_counts_good_minutes_of_a_metric_objective_in_one_read_of_all_its_sources() -> None:
    east, west = make_source("us-east"), make_source("eu-west")
    minute = NOW.replace(second=0) - timedelta(minutes=60)
    buckets = [
        RollupBucket(slug, "wait_time", "1m", minute + timedelta(minutes=i), 1, v, v, v, v, minute)
        for slug, values in (("us-east", [50.0] * 57 + [250.0] * 3), ("eu-west", [50.0] * 54 + [250.0] * 6))
        for i, v in enumerate(values)
    ]
    rollup_reader(get_store()).write_rollups(buckets)
    objective = make_objective(
        "wait", sources=[east, west], kind="metric", metric="wait_time", operator="<", bound=100, target="95"
    )

    with CaptureQueriesContext(connection) as queries:
        result = measure(objective, get_store(), NOW, slugs=["us-east", "eu-west"])

    assert len(queries) == 1  # one rollups_of statement for both sources
    assert (result.good, result.total) == (111, 120)
    # 9 bad minutes of 120 = 7.5 % errors against a 5 % budget: burning at 1.5.
    assert result.burn_rates["1h"] == pytest.approx(1.5)
    assert measure(objective, get_store(), NOW, slugs=["us-east"]).burn_rates["1h"] == pytest.approx(1.0)
    assert over_range(objective, get_store(), minute, minute + timedelta(minutes=30)).attainment_percent == 100.0


def test_it_counts_a_rolling_period_from_the_hour_its_start_falls_in_as_documented() -> None:
    """docs/objectives.md: a rolling period of N days reads hour buckets from the hour at or before now - N days,
    so it counts up to 59 min 59 s more than N days; it says so rather than reading that first hour by the minute,
    which a retention policy may keep only a day."""
    now = datetime(2026, 11, 20, 12, 40, tzinfo=UTC)
    start = now - timedelta(days=7)  # 12:40, seven days ago
    source = make_source("us-east")
    record_outcomes(source, start - timedelta(minutes=61), down=5)  # 11:39: the hour before, not counted
    record_outcomes(source, start - timedelta(minutes=30), down=1)  # 12:10: before the start, in its hour: counted
    record_outcomes(source, start + timedelta(minutes=5), up=998)
    record_outcomes(source, now - timedelta(seconds=1), up=1)  # the current hour, up to now: counted
    objective = make_objective(sources=[source], window_days=7)

    result = measure(objective, get_store(), now)

    assert (result.period_start, result.period_end) == (start, now)  # what pages and the API say
    assert (result.good, result.total) == (999, 1000)  # what was counted: from 12:00, forty minutes more


def test_it_draws_the_budget_of_a_28_day_period_in_at_most_15_points_ending_where_the_page_stands() -> None:
    source = make_source("us-east")
    record_outcomes(source, NOW - timedelta(days=20), up=1000)
    record_outcomes(source, NOW - timedelta(days=3), up=999, down=1)
    objective = make_objective(sources=[source], window_days=28)

    series = budget_series(objective, get_store(), NOW)

    assert len(series) == 15  # 14 steps of 2 days, then the current hour
    values = [point["remaining_budget_percent"] for point in series]
    assert values[:4] == [None, None, None, None]  # nothing polled in the first week
    assert values[-1] == pytest.approx(measure(objective, get_store(), NOW).remaining_budget_percent)
    assert values[-1] == pytest.approx(50.0)  # 1 bad of 2,000 against a 0.1 % budget: half spent


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"target": "100"}, "target"),
        ({"target": "0"}, "target"),
        ({"kind": "metric", "metric": "wait_time", "operator": "~", "bound": 1}, "operator"),
        ({"kind": "metric", "operator": "<", "bound": 1}, "metric"),
        ({"kind": "availability", "bound": 1}, "metric"),
        ({"window_days": 14}, "window_days"),
    ],
)
def test_it_refuses_an_objective_that_cannot_be_judged(fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_objective(tag="prod", **fields)
    assert field in caught.value.message_dict


def test_it_counts_the_good_minutes_every_minute_read_out_counted_mid_hour_and_where_minutes_were_pruned() -> None:
    # The minutes are counted by the store (good_minutes_of), no longer read out one by one (43,200 a source
    # over 30 days): the numbers must be those of counting every 1-minute rollup read out, as it was done.
    now = datetime(2026, 11, 20, 12, 37, 30, tzinfo=UTC)  # every window's edges fall mid-hour
    east, west = make_source("us-east"), make_source("eu-west")
    first = now.replace(second=0) - timedelta(days=4)
    values = (40.0, 100.0, 160.0, 99.5, 250.0, 0.3)
    reader = rollup_reader(get_store())
    reader.write_rollups(
        [
            RollupBucket(
                slug, "wait_time", "1m", first + timedelta(minutes=m), 1 + m % 2, v, v, v * (1 + m % 2), v, first
            )
            for slug, shift in (("us-east", 0), ("eu-west", 1))
            for m in range(0, 4 * 1440, 7)
            for v in [values[(m + shift) % len(values)]]
        ]
    )
    reader.prune_rollups("eu-west", "1m", now.replace(minute=0) - timedelta(days=2))  # on an hour, as retention does
    objective = make_objective(
        "wait", sources=[east, west], kind="metric", metric="wait_time", operator="<=", bound=100, target="95",
        window_days=7,
    )  # fmt: skip
    start, end = objective.period(now)
    current = now.replace(second=0)
    lengths = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "1d": timedelta(days=1), "3d": timedelta(days=3)}
    spans = {"period": (start, min(end, current))} | {name: (current - n, current) for name, n in lengths.items()}
    slugs = [source.slug for source in objective.covered_sources()]
    read_out = reader.rollups_of(slugs, "1m", "wait_time", start=start - timedelta(days=1), end=current)
    expected = {
        name: (sum(b.avg <= 100 for b in inside), len(inside))
        for name, (low, high) in spans.items()
        for inside in [[b for b in read_out if low <= b.start < high]]
    }

    with CaptureQueriesContext(connection) as queries:
        result = measure(objective, get_store(), now, slugs=slugs)

    assert len(queries) == 1  # one statement for both sources, the period and every window
    assert (result.good, result.total) == expected["period"]
    assert {name: (c.good, c.total) for name, c in result.window_counts.items()} == {
        name: counts for name, counts in expected.items() if name != "period"
    }
    assert 0 < expected["3d"][0] < expected["3d"][1]  # good and bad minutes in the data, of both sources


def test_it_says_once_what_is_wrong_with_a_window() -> None:
    with pytest.raises(ValidationError) as caught:
        make_objective(tag="prod", window_days=14)
    assert caught.value.message_dict["window_days"] == ["Choose 7, 28 or 30 days."]
