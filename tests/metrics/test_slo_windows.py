"""The SLO windows' good/total counts from the availability buckets, on every store (SQLite,
PostgreSQL, MongoDB): complete buckets only, one availability_totals call per source."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from metrics.slo import Counts, Objective, SloError, decide
from metrics.slo_windows import SLO_WINDOWS, slo_spans, split_spans, window_counts
from metrics.stores.base import AvailabilitySpan, MetricStore
from metrics.stores.instrumented import InstrumentedStore
from tests.metrics.support import NOON

SLUG = "us-east"
NOW = NOON + timedelta(seconds=30)  # 2026-11-29 12:00:30 UTC: mid-minute, so 12:00 is incomplete

# (age, up): every poll is worked into the windows by hand below.
POLLS = [
    (timedelta(0), False),  # 12:00:30: in no window (its minute and hour are not complete)
    (timedelta(minutes=2), False),  # 11:58:30
    (timedelta(minutes=20), True),  # 11:40:30
    (timedelta(minutes=50), False),  # 11:10:30
    (timedelta(hours=5), True),  # 07:00:30
    (timedelta(hours=20), True),  # 11-28 16:00:30
    (timedelta(days=2), False),  # 11-27 12:00:30
    (timedelta(days=3, minutes=1), True),  # 11-26 11:59:30: just before the 3 d window
]


def operations(store: MetricStore, operation: str) -> float:
    labels = {"backend": store.backend, "operation": operation}
    return REGISTRY.get_sample_value("devops_insights_store_operation_seconds_count", labels) or 0.0


def test_it_counts_each_window_of_complete_buckets_in_one_store_call(store: MetricStore) -> None:
    for age, up in POLLS:
        store.record_poll_outcome(SLUG, NOW - age, up, 10.0 if up else None, "" if up else "timeout")
    measured = InstrumentedStore(store)
    before = {op: operations(store, op) for op in ("availability_totals", "availability")}
    counts = window_counts(measured, SLUG, NOW)
    assert operations(store, "availability_totals") - before["availability_totals"] == 1
    assert operations(store, "availability") == before["availability"]
    # Minute windows end at 12:00:00, hour windows (1 d, 3 d) at 12:00 too:
    #   5m  [11:55, 12:00): 11:58:30 down                         -> 0 good of 1
    #   30m [11:30, 12:00): + 11:40:30 up                          -> 1 of 2
    #   1h  [11:00, 12:00): + 11:10:30 down                        -> 1 of 3
    #   6h  [06:00, 12:00): + 07:00:30 up                          -> 2 of 4
    #   1d  [11-28 12:00, 12:00): + 11-28 16:00:30 up              -> 3 of 5
    #   3d  [11-26 12:00, 12:00): + 11-27 12:00:30 down            -> 3 of 6 (11-26 11:59:30 is before it)
    assert counts == {
        "5m": Counts(0, 1),
        "30m": Counts(1, 2),
        "1h": Counts(1, 3),
        "6h": Counts(2, 4),
        "1d": Counts(3, 5),
        "3d": Counts(3, 6),
    }
    # The counts feed the decision directly: 1 h burns at (2/3) / (1/1000) = 666.7x, 5 m at 1000x.
    assert decide(counts, Objective.of(99.9)).severity == "page"


def test_it_gives_windows_of_exactly_their_length() -> None:
    spans = slo_spans(NOW)
    assert list(spans) == list(SLO_WINDOWS) == ["5m", "30m", "1h", "6h", "1d", "3d"]
    for name, span in spans.items():
        assert span.end == NOON
        assert span.end - span.start == SLO_WINDOWS[name].length
    assert {name: span.tier for name, span in spans.items()} == {
        "5m": "1m",
        "30m": "1m",
        "1h": "1m",
        "6h": "1m",
        "1d": "1h",
        "3d": "1h",
    }


@pytest.mark.parametrize("minute", [0, 1, 30, 59])
def test_it_splits_each_window_into_the_buckets_before_a_moment_and_those_from_it(minute: int) -> None:
    # The burn-rate rules' cut: a poll at 12:<minute>:30 reads windows ending with its minute, cut one
    # minute earlier; hour windows reach into the cut's hour only at minutes 0 and 59.
    poll = NOON.replace(minute=minute) + timedelta(seconds=30)
    spans = slo_spans(poll + timedelta(minutes=1))
    cut = NOON.replace(minute=minute) - timedelta(minutes=1)
    before, after = split_spans(spans, cut)
    for name, span in spans.items():
        parts = [part for part in (before.get(name), after.get(name)) if part is not None]
        assert (parts[0].start, parts[-1].end) == (span.start, span.end)  # together: exactly the window
        assert {part.tier for part in parts} == {span.tier}
        if len(parts) == 2:
            assert parts[0].end == parts[1].start
    assert {name: (part.start, part.end) for name, part in after.items() if part.tier == "1m"} == {
        name: (cut, cut + timedelta(minutes=2)) for name in ("5m", "30m", "1h", "6h")
    }
    hours = {name: (part.start, part.end) for name, part in after.items() if part.tier == "1h"}
    expected = {0: (NOON - timedelta(hours=1), NOON), 59: (NOON, NOON + timedelta(hours=1))}.get(minute)
    assert hours == ({} if expected is None else {"1d": expected, "3d": expected})
    assert before["1d"].end == (NOON - timedelta(hours=1) if minute == 0 else NOON)


def test_it_leaves_a_span_whole_on_the_side_of_the_moment_it_lies_on() -> None:
    span = AvailabilitySpan("1m", NOON, NOON + timedelta(minutes=5))
    assert split_spans({"w": span}, NOON - timedelta(hours=1)) == ({}, {"w": span})
    assert split_spans({"w": span}, NOON + timedelta(hours=1)) == ({"w": span}, {})
    with pytest.raises(ValueError, match="timezone-aware"):
        split_spans({"w": span}, datetime(2026, 11, 29, 12, 0))


def test_it_refuses_unknown_windows_and_a_naive_now() -> None:
    with pytest.raises(SloError, match="unknown SLO window"):
        slo_spans(NOW, ["2h"])
    with pytest.raises(SloError, match="no windows"):
        slo_spans(NOW, [])
    with pytest.raises(ValueError, match="timezone-aware"):
        slo_spans(datetime(2026, 11, 29, 12, 0))
