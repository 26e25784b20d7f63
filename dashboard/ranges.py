"""Time ranges of the charts: the presets, custom start/end, and a bucket size giving a readable chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

from metrics.relative_time import parse_relative

PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_PRESET = "1h"
MAX_SPAN = timedelta(days=400)
TARGET_POINTS = 240
# Bucket sizes a person can reason about; the smallest one at or above span/TARGET_POINTS wins.
NICE_BUCKETS = [
    timedelta(seconds=s)
    for s in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
]


class RangeError(ValueError):
    """A range parameter is malformed; the message says which and why."""


@dataclass(frozen=True)
class TimeRange:
    name: str  # a preset name or "custom"
    start: datetime
    end: datetime
    bucket: timedelta


def pick_bucket(span: timedelta) -> timedelta:
    wanted = span / TARGET_POINTS
    for bucket in NICE_BUCKETS:
        if bucket >= wanted:
            return bucket
    return NICE_BUCKETS[-1]


def _parse_instant(name: str, raw: str, now: datetime) -> datetime:
    try:
        value = parse_relative(raw, now) or parse_datetime(raw.strip())  # now-1h, as the API takes it too
    except ValueError:
        value = None
    if value is None:
        raise RangeError(f"{name}: expected an ISO 8601 date and time or now-1h, got {raw[:40]!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # the dashboards speak UTC
    try:
        return value.astimezone(UTC)  # as the store reads it
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise RangeError(f"{name}: {raw[:40]!r} is outside the years 1 to 9999 in UTC") from None


def parse_range(params: dict[str, str], now: datetime) -> TimeRange:
    """``range`` (1h, 6h, 24h, 7d) or ``start`` and ``end`` (ISO 8601 or now-1h; ``end`` defaults to now)."""
    start_raw = params.get("start", "").strip()
    if start_raw:
        start = _parse_instant("start", start_raw, now)
        end_raw = params.get("end", "").strip()
        end = _parse_instant("end", end_raw, now) if end_raw else now
        if end <= start:
            raise RangeError("end: must be after start")
        if end - start > MAX_SPAN:
            raise RangeError(f"the range may span at most {MAX_SPAN.days} days")
        return TimeRange("custom", start, end, pick_bucket(end - start))
    name = params.get("range", "").strip() or DEFAULT_PRESET
    if name not in PRESETS:
        raise RangeError(f"range: expected one of {', '.join(PRESETS)}, got {name[:20]!r}")
    span = PRESETS[name]
    return TimeRange(name, now - span, now, pick_bucket(span))
