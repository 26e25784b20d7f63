"""Availability arithmetic shared by both stores: tiers, latency bins, percentiles, windows, checks.

Every poll's outcome is counted into a 1-minute, a 1-hour and a 1-day bucket (aligned to their
width since the epoch, UTC): how many polls, how many were up, the up polls' latencies as a fixed
histogram, and the down polls per error kind. Counting is an increment, so a write never reads
a bucket first, and buckets of any range merge by adding. See docs/availability.md.

Latency histogram: bin 0 holds [0, 1) ms, bin k (1..68) holds [2^((k-1)/4), 2^(k/4)) ms, bin 69
holds everything from 2^17 ms (131 s, longer than the longest poll timeout) up. A percentile is
the nearest-rank value of the merged histogram's samples, estimated by the geometric middle of
its bin, so for latencies in [1 ms, 131072 ms) it is within ``RELATIVE_ERROR`` (2^(1/8) - 1, about
9.05 %) of the exact nearest-rank percentile of the same samples; below 1 ms within 0.5 ms; from
131072 ms up it reads 131072 (a lower bound).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from metrics.stores.arguments import aware_utc
from metrics.stores.base import (
    AvailabilityBucket,
    AvailabilityDay,
    AvailabilitySpan,
    PollSample,
    UptimeWindow,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIER_SECONDS: dict[str, int] = {"1m": 60, "1h": 3600, "1d": 86400}
TIERS = tuple(TIER_SECONDS)  # finest first

# Counts written by the poller, and counts derived from older data by the backfill (kept apart so
# the backfill can be redone without touching what the poller counted).
LIVE = "live"
BACKFILL = "backfill"

BINS_PER_DOUBLING = 4
TOP_EXPONENT = 17
LATENCY_BOUNDS: tuple[float, ...] = tuple(2 ** (k / BINS_PER_DOUBLING) for k in range(TOP_EXPONENT * 4 + 1))
LATENCY_BINS = len(LATENCY_BOUNDS) + 1  # 70
NO_LATENCY = -1  # the SQL store's bin for polls counted without a latency (down, or up but unmeasured)
RELATIVE_ERROR = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1

ERROR_KIND = re.compile(r"[a-z0-9_]{1,40}")
MAX_AVAILABILITY_BUCKETS = 100_000
MAX_AVAILABILITY_SPANS = 16
MAX_AVAILABILITY_SOURCES = 500  # sources read at once (a status page reads all of its sources together)


@dataclass(frozen=True)
class Window:
    name: str
    length: timedelta
    tier: str


# Each window read from the coarsest tier that still ends it within its bucket width, so reads stay
# small: 1440 minute buckets, 168 and 720 hour buckets, 90 day buckets.
WINDOWS: dict[str, Window] = {
    "24h": Window("24h", timedelta(hours=24), "1m"),
    "7d": Window("7d", timedelta(days=7), "1h"),
    "30d": Window("30d", timedelta(days=30), "1h"),
    "90d": Window("90d", timedelta(days=90), "1d"),
}
MAX_DAYS = 366

# How long each tier must be kept for every window above to be whole: the longest window read from
# it (the 90 day bars are the 90d window). Retention keeps availability at least this long (see
# metrics.lifecycle: a policy asking for less is refused at save, and clamped when it bypassed that).
REQUIRED_KEEP: dict[str, timedelta] = {
    tier: max(window.length for window in WINDOWS.values() if window.tier == tier) for tier in TIERS
}


# --- buckets ---------------------------------------------------------------------------------


def check_tier(tier: str) -> str:
    if tier not in TIER_SECONDS:
        raise ValueError(f"unknown availability tier {tier!r}: use one of {', '.join(TIERS)}")
    return tier


def bucket_start(moment: datetime, tier: str) -> datetime:
    """The start of the ``tier`` bucket holding ``moment`` (aligned since the epoch, UTC)."""
    width = TIER_SECONDS[check_tier(tier)]
    offset = int((moment - EPOCH).total_seconds() // width) * width
    return EPOCH + timedelta(seconds=offset)


def epoch_ms(moment: datetime) -> int:
    return int((moment - EPOCH) // timedelta(milliseconds=1))


def from_epoch_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=int(value))


def check_span(span: AvailabilitySpan) -> AvailabilitySpan:
    """The span with aware UTC times and its start floored to the tier; ValueError if it makes no sense."""
    check_tier(span.tier)
    start, end = aware_utc(span.start, "start"), aware_utc(span.end, "end")
    if end <= start:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    start = bucket_start(start, span.tier)
    if (end - start).total_seconds() / TIER_SECONDS[span.tier] > MAX_AVAILABILITY_BUCKETS:
        raise ValueError(
            f"{start.isoformat()}..{end.isoformat()} holds more than {MAX_AVAILABILITY_BUCKETS} {span.tier} buckets"
        )
    return AvailabilitySpan(span.tier, start, end)


def check_spans(spans: Sequence[AvailabilitySpan]) -> list[AvailabilitySpan]:
    if len(spans) > MAX_AVAILABILITY_SPANS:
        raise ValueError(f"at most {MAX_AVAILABILITY_SPANS} spans at once, got {len(spans)}")
    return [check_span(span) for span in spans]


def check_sources(sources: Sequence[str]) -> list[str]:
    """The source slugs, each once, in the order given; ValueError for too many or a non-string."""
    if isinstance(sources, str):
        raise ValueError("sources must be a list of source slugs, not one string")
    unique = list(dict.fromkeys(sources))
    if len(unique) > MAX_AVAILABILITY_SOURCES:
        raise ValueError(f"at most {MAX_AVAILABILITY_SOURCES} sources at once, got {len(unique)}")
    for source in unique:
        if not isinstance(source, str) or not source:
            raise ValueError(f"a source is a non-empty slug, got {source!r}")
    return unique


# --- outcomes --------------------------------------------------------------------------------


def check_sample(sample: PollSample) -> PollSample:
    """The sample with ``at`` in UTC and latency as a float; ValueError saying what is wrong."""
    at = aware_utc(sample.at, "at")
    if not isinstance(sample.up, bool):
        raise ValueError(f"up must be True or False, got {sample.up!r}")
    latency = sample.latency_ms
    if latency is not None:
        if isinstance(latency, bool) or not isinstance(latency, int | float):
            raise ValueError(f"latency_ms must be a number of milliseconds or None, got {latency!r}")
        latency = float(latency)
        if not math.isfinite(latency) or latency < 0:
            raise ValueError(f"latency_ms must be a finite number >= 0, got {latency!r}")
    kind = sample.error_kind
    if sample.up and kind:
        raise ValueError(f"an up poll has no error kind, got {kind!r}")
    if not sample.up and (not isinstance(kind, str) or not ERROR_KIND.fullmatch(kind)):
        raise ValueError(f"a down poll needs an error kind of 1-40 characters a-z, 0-9 or _, got {kind!r}")
    return PollSample(at=at, up=sample.up, latency_ms=latency, error_kind=kind)


def error_kind_key(kind: str) -> str:
    """Any error kind made acceptable to ``check_sample`` (for callers whose kinds come from elsewhere)."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", (kind or "").lower())[:40]
    return cleaned or "unknown"


def latency_bin(latency_ms: float) -> int:
    return bisect.bisect_right(LATENCY_BOUNDS, latency_ms)


def bin_bounds(index: int) -> tuple[float, float]:
    """[low, high) of a latency bin in ms; the last bin's high is infinity."""
    low = 0.0 if index == 0 else LATENCY_BOUNDS[index - 1]
    high = LATENCY_BOUNDS[index] if index < len(LATENCY_BOUNDS) else math.inf
    return low, high


def bin_estimate(index: int) -> float:
    """The value a bin stands for: its geometric middle (the middle of [0, 1) for bin 0, the low end of the last)."""
    if index == 0:
        return 0.5
    low, high = bin_bounds(index)
    return low if math.isinf(high) else math.sqrt(low * high)


def percentile(latency: Mapping[int, int], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of a histogram's samples, within the module's bound."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    total = sum(latency.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(Fraction(str(p)) * total / 100))
    seen = 0
    for index in sorted(latency):
        seen += latency[index]
        if seen >= rank:
            return bin_estimate(index)
    raise AssertionError("unreachable: the ranks add up to the total")


# --- counting --------------------------------------------------------------------------------


@dataclass
class Counts:
    """Outcomes counted in one bucket; adding two is merging their buckets."""

    polls: int = 0
    up: int = 0
    latency: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def add_sample(self, sample: PollSample) -> None:
        self.polls += 1
        if sample.up:
            self.up += 1
            if sample.latency_ms is not None:
                self.latency[latency_bin(sample.latency_ms)] += 1
        else:
            self.errors[sample.error_kind] += 1

    def add_cell(self, latency_bin_index: int, error_kind: str, count: int) -> None:
        """One SQL row: up polls of one latency bin (or NO_LATENCY), or down polls of one kind."""
        self.polls += count
        if error_kind:
            self.errors[error_kind] += count
            return
        self.up += count
        if latency_bin_index != NO_LATENCY:
            self.latency[latency_bin_index] += count

    def cells(self) -> list[tuple[int, str, int]]:
        """The SQL rows (latency bin, error kind, count) these counts are stored as."""
        timed = sum(self.latency.values())
        rows = [(index, "", n) for index, n in sorted(self.latency.items()) if n]
        if self.up > timed:
            rows.append((NO_LATENCY, "", self.up - timed))
        rows.extend((NO_LATENCY, kind, n) for kind, n in sorted(self.errors.items()) if n)
        return rows

    def merge(self, other: Counts) -> None:
        self.polls += other.polls
        self.up += other.up
        self.latency.update(other.latency)
        self.errors.update(other.errors)

    def bucket(self, start: datetime, tier: str) -> AvailabilityBucket:
        return AvailabilityBucket(
            start=start,
            tier=tier,
            polls=self.polls,
            up=self.up,
            latency={k: v for k, v in sorted(self.latency.items()) if v},
            errors={k: v for k, v in sorted(self.errors.items()) if v},
        )


def sample_cell(sample: PollSample) -> tuple[int, str]:
    """The SQL row (latency bin, error kind) one checked sample adds 1 to."""
    if not sample.up:
        return NO_LATENCY, sample.error_kind
    return (NO_LATENCY if sample.latency_ms is None else latency_bin(sample.latency_ms)), ""


def count_samples(samples: Iterable[PollSample]) -> dict[tuple[str, datetime], Counts]:
    """Checked samples counted into every tier's buckets, keyed by (tier, bucket start)."""
    buckets: dict[tuple[str, datetime], Counts] = {}
    for sample in samples:
        for tier in TIERS:
            key = (tier, bucket_start(sample.at, tier))
            counts = buckets.get(key)
            if counts is None:
                counts = buckets[key] = Counts()
            counts.add_sample(sample)
    return buckets


def check_backfill(since: datetime, samples: Iterable[PollSample]) -> tuple[datetime, list[PollSample]]:
    """``since`` (a UTC midnight) and every sample checked before anything is written."""
    since = aware_utc(since, "since")
    if bucket_start(since, "1d") != since:
        raise ValueError(f"since must be a UTC midnight (a day bucket's start), got {since.isoformat()}")
    checked = []
    for sample in samples:
        sample = check_sample(sample)
        if sample.at < since:
            raise ValueError(f"a sample at {sample.at.isoformat()} is before since ({since.isoformat()})")
        checked.append(sample)
    return since, checked


def live_since(oldest: Mapping[str, datetime | None]) -> datetime | None:
    """Where live counting began, as precisely as the tiers still tell: the finest tier whose oldest
    bucket lies in the oldest day bucket (finer tiers are pruned sooner and may start later)."""
    day = oldest.get("1d")
    if day is None:
        return None
    for tier in ("1m", "1h"):
        moment = oldest.get(tier)
        if moment is not None and bucket_start(moment, "1d") == day:
            return moment
    return day


# --- windows and day bars --------------------------------------------------------------------


def window_span(name: str, now: datetime) -> AvailabilitySpan:
    """The window's buckets: the last length/width buckets of its tier, the current (partial) one included.

    So a window covers between ``length - width`` and ``length`` of time that has passed: 24h to the
    minute, 7d and 30d to the hour, 90d to the day.
    """
    window = WINDOWS.get(name)
    if window is None:
        raise ValueError(f"unknown availability window {name!r}: use one of {', '.join(WINDOWS)}")
    now = aware_utc(now, "now")
    end = bucket_start(now, window.tier) + timedelta(seconds=TIER_SECONDS[window.tier])
    return AvailabilitySpan(window.tier, end - window.length, end)


def window_spans(names: Sequence[str], now: datetime) -> dict[str, AvailabilitySpan]:
    return {name: window_span(name, now) for name in names}


def uptime_percent(polls: int, up: int) -> float | None:
    return None if polls == 0 else 100.0 * up / polls


def summarize_windows(
    spans: Mapping[str, AvailabilitySpan], totals: Sequence[AvailabilityBucket]
) -> dict[str, UptimeWindow]:
    result = {}
    for (name, span), total in zip(spans.items(), totals, strict=True):
        result[name] = UptimeWindow(
            window=name,
            tier=span.tier,
            start=span.start,
            end=span.end,
            polls=total.polls,
            up=total.up,
            down=total.down,
            uptime_percent=uptime_percent(total.polls, total.up),
            latency_p50_ms=percentile(total.latency, 50),
            latency_p95_ms=percentile(total.latency, 95),
        )
    return result


def days_span(now: datetime, days: int) -> AvailabilitySpan:
    """The day buckets of the last ``days`` UTC days, today included."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}, got {days!r}")
    end = bucket_start(aware_utc(now, "now"), "1d") + timedelta(days=1)
    return AvailabilitySpan("1d", end - timedelta(days=days), end)


def worst_error_kind(errors: Mapping[str, int]) -> str | None:
    """The kind with the most down polls; ties go to the alphabetically first, so the answer is stable."""
    found = [(-n, kind) for kind, n in errors.items() if n]
    return min(found)[1] if found else None


def day_series(buckets: Iterable[AvailabilityBucket], span: AvailabilitySpan) -> list[AvailabilityDay]:
    by_start = {bucket.start: bucket for bucket in buckets}
    days = []
    moment = span.start
    while moment < span.end:
        bucket = by_start.get(moment)
        if bucket is None:
            days.append(AvailabilityDay(moment.date(), 0, 0, 0, None, None))
        else:
            days.append(
                AvailabilityDay(
                    day=moment.date(),
                    polls=bucket.polls,
                    up=bucket.up,
                    down=bucket.down,
                    uptime_percent=uptime_percent(bucket.polls, bucket.up),
                    worst_error_kind=worst_error_kind(bucket.errors),
                )
            )
        moment += timedelta(days=1)
    return days
