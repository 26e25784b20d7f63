"""Argument checks and the history cursor, shared by every store so they fail the same way."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_HISTORY_LIMIT = 1000
MAX_SERIES_BUCKETS = 100_000
MAX_SERIES_KEYS = 200  # series_many: a board panel asks for at most 64 (boards.spec)
LATEST_OF_CHUNK = 500  # latest_of: sources per SQL statement (SQLite before 3.32 allows 999 parameters)
SERIES_TIERS = {"raw": 1, "1m": 60, "1h": 3600, "1d": 86400}
_CURSOR_VERSION = "h1"


def aware_utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC; a naive datetime is a programming error (USE_TZ is on everywhere)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def source_slugs(sources: Iterable[str]) -> list[str]:
    """``latest_of``'s sources, each once, in the order given; a lone string is a caller's mistake."""
    if isinstance(sources, str | bytes):
        raise TypeError("sources must be an iterable of source slugs, not one string")
    return list(dict.fromkeys(sources))


def history_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive whole number, got {limit!r}")
    return min(limit, MAX_HISTORY_LIMIT)


def bucket_seconds(bucket: timedelta, start: datetime, end: datetime) -> int:
    """The bucket width in whole seconds; refuses widths and ranges that would make no sense."""
    seconds = bucket.total_seconds()
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(f"bucket must be a whole number of seconds, at least 1, got {bucket}")
    if end <= start:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    if (end - start).total_seconds() / seconds > MAX_SERIES_BUCKETS:
        raise ValueError(f"{start.isoformat()}..{end.isoformat()} in {bucket} buckets is over {MAX_SERIES_BUCKETS}")
    return int(seconds)


def epoch_micros(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def encode_cursor(fetched_at: datetime, sequence: int) -> str:
    """An opaque token for "entries older than this one": (fetched_at, sequence) is unique per source."""
    raw = f"{_CURSOR_VERSION}:{epoch_micros(fetched_at)}:{sequence}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position a cursor stands for, or ValueError saying the cursor is not one of ours."""
    problem = "invalid history cursor (pass back next_cursor from a previous page unchanged)"
    if not isinstance(cursor, str) or not cursor or len(cursor) > 100:
        raise ValueError(problem)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, micros, sequence = raw.split(":")
        if version != _CURSOR_VERSION:
            raise ValueError(problem)
        position = from_epoch_micros(int(micros)), int(sequence)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise ValueError(problem) from None
    if position[1] < 0:
        raise ValueError(problem)
    return position


def series_many_args(
    keys: Sequence[Any], start: datetime, end: datetime, bucket: timedelta, tier: str
) -> tuple[datetime, datetime, int]:
    """``series_many``'s checks, the same in every store: (start, end, bucket width in seconds)."""
    start, end = aware_utc(start, "start"), aware_utc(end, "end")
    if tier not in SERIES_TIERS:
        raise ValueError(f"tier must be one of {', '.join(SERIES_TIERS)}, got {tier!r}")
    width = bucket_seconds(bucket, start, end)
    if width % SERIES_TIERS[tier]:
        raise ValueError(f"bucket ({bucket}) must be a whole multiple of the {tier} tier")
    if len(keys) > MAX_SERIES_KEYS:
        raise ValueError(f"at most {MAX_SERIES_KEYS} series in one call, got {len(keys)}")
    return start, end, width
