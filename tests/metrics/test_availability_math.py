"""Availability arithmetic without a database: latency bins, the percentile bound, windows, checks."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy
import pytest

from metrics.availability import (
    LATENCY_BINS,
    LATENCY_BOUNDS,
    NO_LATENCY,
    RELATIVE_ERROR,
    Counts,
    bin_bounds,
    bin_estimate,
    check_sample,
    error_kind_key,
    latency_bin,
    live_since,
    percentile,
    window_span,
    worst_error_kind,
)
from metrics.stores.base import PollSample
from tests.metrics.support import nearest_rank, within_bound

NOW = datetime(2026, 11, 29, 12, 0, 30, tzinfo=UTC)


def test_it_has_seventy_log_spaced_bins_from_one_millisecond_to_131_seconds() -> None:
    assert LATENCY_BINS == 70
    assert (LATENCY_BOUNDS[0], LATENCY_BOUNDS[4], LATENCY_BOUNDS[-1]) == (1.0, 2.0, 131072.0)
    assert [latency_bin(ms) for ms in (0.0, 0.999, 1.0, 1.18, 1.19, 2.0, 131071.9, 131072.0, 1e9)] == [
        0,
        0,
        1,
        1,
        2,  # 2^(1/4) = 1.189...
        5,
        68,
        69,
        69,
    ]
    assert bin_bounds(0) == (0.0, 1.0)
    assert bin_bounds(69) == (131072.0, math.inf)


def test_it_puts_every_latency_inside_its_bin_and_estimates_within_the_bound() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        ms = 10 ** rng.uniform(-1, 5.1)
        index = latency_bin(ms)
        low, high = bin_bounds(index)
        assert low <= ms < high
        assert within_bound(bin_estimate(index), ms, RELATIVE_ERROR)
    # The bound is tight: a latency at a bin's low end is exactly RELATIVE_ERROR below the estimate.
    assert bin_estimate(latency_bin(8.0)) / 8.0 - 1 == pytest.approx(RELATIVE_ERROR)
    assert abs(RELATIVE_ERROR - 0.0905) < 1e-4


@pytest.mark.parametrize("seed", range(6))
def test_it_estimates_percentiles_of_merged_histograms_within_the_bound(seed: int) -> None:
    rng = random.Random(seed)
    samples = [rng.lognormvariate(rng.uniform(2, 7), rng.uniform(0.2, 1.5)) for _ in range(rng.randint(1, 3000))]
    samples = [min(ms, 131000.0) for ms in samples]
    # Two histograms (two buckets) merged by adding, as the stores merge buckets.
    first, second = Counts(), Counts()
    for i, ms in enumerate(samples):
        (first if i % 2 else second).add_sample(PollSample(NOW, True, ms))
    first.merge(second)
    for p in (1, 50, 90, 95, 99, 100):
        exact = float(numpy.percentile(samples, p, method="inverted_cdf"))
        assert exact == nearest_rank(samples, p)
        estimate = percentile(first.latency, p)
        assert estimate is not None
        assert within_bound(estimate, exact, RELATIVE_ERROR), (p, estimate, exact)


def test_it_takes_the_nearest_rank_with_exact_arithmetic() -> None:
    # 20 samples: p95 is the 19th (0.95 * 20 is 19 exactly), not the 20th.
    histogram = {1: 18, 30: 1, 60: 1}
    assert percentile(histogram, 95) == bin_estimate(30)
    assert percentile(histogram, 90) == bin_estimate(1)
    assert percentile({}, 50) is None
    with pytest.raises(ValueError, match="percentile must be in"):
        percentile(histogram, 0)


def test_it_stores_counts_as_cells_and_reads_them_back() -> None:
    counts = Counts()
    for sample in (
        PollSample(NOW, True, 10.0),
        PollSample(NOW, True, 10.0),
        PollSample(NOW, True, None),
        PollSample(NOW, False, 900.0, "timeout"),
    ):
        counts.add_sample(check_sample(sample))
    assert counts.cells() == [(14, "", 2), (NO_LATENCY, "", 1), (NO_LATENCY, "timeout", 1)]
    again = Counts()
    for cell in counts.cells():
        again.add_cell(*cell)
    assert again == counts


def test_it_aligns_windows_to_their_tier_with_the_current_bucket_included() -> None:
    assert window_span("24h", NOW) == window_span("24h", NOW.replace(second=59))
    span = window_span("24h", NOW)
    assert (span.tier, span.start, span.end) == (
        "1m",
        NOW.replace(second=0) - timedelta(hours=23, minutes=59),
        NOW.replace(second=0) + timedelta(minutes=1),
    )
    assert (span.end - span.start) == timedelta(hours=24)
    assert window_span("90d", NOW).start == datetime(2026, 9, 1, tzinfo=UTC)


def test_it_finds_where_live_counting_began_as_precisely_as_the_tiers_tell() -> None:
    day = datetime(2026, 11, 1, tzinfo=UTC)
    minute = day + timedelta(hours=9, minutes=17)
    assert live_since({"1m": minute, "1h": day + timedelta(hours=9), "1d": day}) == minute
    # Minute buckets pruned past the first day: the hour says where it began.
    assert live_since({"1m": day + timedelta(days=20), "1h": day + timedelta(hours=9), "1d": day}) == day + timedelta(
        hours=9
    )
    assert live_since({"1m": None, "1h": None, "1d": day}) == day
    assert live_since({"1m": None, "1h": None, "1d": None}) is None


def test_it_turns_any_error_kind_into_one_the_stores_accept() -> None:
    assert error_kind_key("http_503") == "http_503"
    assert error_kind_key("Bad.Payload$") == "bad_payload_"
    assert error_kind_key("") == "unknown"
    assert len(error_kind_key("x" * 100)) == 40
    check_sample(PollSample(NOW, False, None, error_kind_key("Any Thing!")))


def test_it_breaks_ties_between_error_kinds_alphabetically() -> None:
    assert worst_error_kind({"timeout": 3, "dns": 3, "connect": 1}) == "dns"
    assert worst_error_kind({"timeout": 0}) is None
