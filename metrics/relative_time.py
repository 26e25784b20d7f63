"""Relative times and durations as people type them in a URL: ``now``, ``now-1h``, ``now-30m``; ``1h``, ``7d``.

One reading for the API's ``from``/``to``/``since`` and ``range`` and the dashboards' ``start``/``end``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"^(\d{1,7})([smhdw])$")
RELATIVE = re.compile(r"^now(?:([+-])(\d{1,7}[smhdw]))?$")
MAX_DURATION = timedelta(days=3660)  # ten years: any real range, and no datetime overflow


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``7d``, ``2w`` -> a timedelta; ValueError otherwise (zero, too long, junk)."""
    match = DURATION.match(text.strip())
    if not match:
        raise ValueError("not a duration such as 30m, 1h, 24h or 7d")
    value = timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])
    if not timedelta(0) < value <= MAX_DURATION:
        raise ValueError(f"a duration between 1s and {MAX_DURATION.days}d")
    return value


def parse_relative(text: str, now: datetime) -> datetime | None:
    """``now``, ``now-1h`` or ``now+5m`` relative to ``now``; None when ``text`` is not of that form."""
    match = RELATIVE.match(text.strip().lower())
    if not match:
        return None
    if not match.group(1):
        return now
    offset = parse_duration(match.group(2))
    return now - offset if match.group(1) == "-" else now + offset
