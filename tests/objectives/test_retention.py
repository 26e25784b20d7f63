"""Retention keeps the 1-minute rollups a metric objective counts: its period and the previous month's report,
though the default policy keeps minutes 30 days; every other source is pruned as its policy says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from metrics.lifecycle.models import Retention
from metrics.lifecycle.retention import apply_retention
from metrics.lifecycle.signals import rollups_wanted
from metrics.rollups import RollupBucket
from metrics.stores import get_store
from objectives.attainment import over_range, rollup_reader
from objectives.reports import month_range
from tests.factories import make_objective, make_source

pytestmark = pytest.mark.django_db
# The monthly report of October is sent now: the default policy's 1-minute horizon is 2 October 00:00.
NOW = datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
OCTOBER_FIRST = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
MINUTES = {OCTOBER_FIRST: 250.0, datetime(2026, 10, 15, 12, 0, tzinfo=UTC): 50.0, NOW - timedelta(hours=1): 50.0}


def write_minutes(*slugs: str) -> None:
    rollup_reader(get_store()).write_rollups(
        [
            RollupBucket(slug, "wait_time", "1m", start, 1, v, v, v, v, start)
            for slug in slugs
            for start, v in MINUTES.items()
        ]
    )


def first_minute_kept(slug: str) -> bool:
    end = OCTOBER_FIRST + timedelta(minutes=1)
    return bool(rollup_reader(get_store()).rollups(slug, "1m", start=OCTOBER_FIRST, end=end))


def prune(*slugs: str, tmp_path: Path) -> None:
    apply_retention(get_store(), tmp_path, sources=list(slugs), now=NOW, policies={s: Retention() for s in slugs})


def wait_objective(source: Any, **fields: Any) -> Any:
    return make_objective(
        "wait", sources=[source], kind="metric", metric="wait_time", operator="<", bound=100, target="99", **fields
    )


def test_it_keeps_the_minutes_of_the_month_a_metric_objective_reports_on(tmp_path: Path) -> None:
    covered = make_source("us-east")
    make_source("eu-west")
    objective = wait_objective(covered, window_kind="calendar", window_days=30)
    write_minutes("us-east", "eu-west")

    prune("us-east", "eu-west", tmp_path=tmp_path)

    assert first_minute_kept("us-east")
    # The slow first minute of October still counts in October's report: 2 good minutes of 3.
    october = over_range(objective, get_store(), *month_range("2026-10"))
    assert (october.good, october.total) == (2, 3)
    # A source no metric objective covers is pruned as its policy says.
    assert not first_minute_kept("eu-west")


def test_it_keeps_a_rolling_objectives_minutes_too(tmp_path: Path) -> None:
    # A rolling objective's report is also over the previous month, longer than its 30 days.
    wait_objective(make_source("us-east"))
    write_minutes("us-east")

    prune("us-east", tmp_path=tmp_path)

    assert first_minute_kept("us-east")


def test_it_prunes_minutes_an_availability_objective_never_reads(tmp_path: Path) -> None:
    make_objective(sources=[make_source("us-east")])  # availability: its buckets have their own floor
    write_minutes("us-east")

    prune("us-east", tmp_path=tmp_path)

    assert not first_minute_kept("us-east")


def test_it_deletes_no_rollups_when_asking_what_to_keep_fails(tmp_path: Path) -> None:
    make_source("eu-west")
    write_minutes("eu-west")

    def broken(**kwargs: Any) -> dict[str, datetime]:
        raise RuntimeError("objectives unreadable")

    rollups_wanted.connect(broken, dispatch_uid="test.broken")
    try:
        prune("eu-west", tmp_path=tmp_path)
    finally:
        rollups_wanted.disconnect(dispatch_uid="test.broken")

    assert first_minute_kept("eu-west")
