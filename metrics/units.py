"""How each metric reads to a person: label, unit and number format.

The one home of a metric's label: the cards, the source page and the boards' comparison all read it here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricFormat:
    label: str
    unit: str = ""  # "%", "ms", "B/s", "MB" or "" for counts
    decimals: int = 0


METRIC_FORMATS: dict[str, MetricFormat] = {
    "cpu_load": MetricFormat("CPU load", "%", 1),
    "active_connections": MetricFormat("Connections"),
    "wait_time": MetricFormat("Wait time", "ms"),
    "online": MetricFormat("Online users"),
    "session": MetricFormat("Sessions"),
    "timers": MetricFormat("Timers"),
    "servers_count": MetricFormat("Servers"),
    "workers_busy": MetricFormat("Workers busy"),
    "workers_idle": MetricFormat("Workers idle"),
    "response_time_p95": MetricFormat("Response p95", "ms"),
    "error_rate": MetricFormat("Error rate", "%", 2),
    "requests_per_second": MetricFormat("Requests", "/s"),
    "memory_usage_percent": MetricFormat("Memory used", "%", 1),
    "disk_usage_percent": MetricFormat("Disk used", "%", 1),
    "network_latency_ms": MetricFormat("Network latency", "ms"),
    "critical_alerts": MetricFormat("Critical alerts"),
    "service_redis_up": MetricFormat("Redis up", "up/down"),
    "service_database_up": MetricFormat("Database up", "up/down"),
}

# The numbers a card shows, in this order, when the source has them.
KEY_METRICS = ("cpu_load", "active_connections", "wait_time", "online", "session", "timers", "servers_count")


def metric_format(name: str) -> MetricFormat:
    found = METRIC_FORMATS.get(name)
    if found is not None:
        return found
    unit = _guess_unit(name)
    label = name
    for suffix in UNIT_SUFFIXES:
        if label.endswith(suffix) and len(label) > len(suffix):
            label = label[: -len(suffix)]
            break
    return MetricFormat(label.replace("_", " ").capitalize(), unit, 1 if unit == "%" else 2)


UNIT_SUFFIXES = ("_per_second", "_per_sec", "_percent", "_pct", "_ms", "_mb")


def _guess_unit(name: str) -> str:
    if name.endswith(("_percent", "_pct")):
        return "%"
    if name.endswith("_ms"):
        return "ms"
    if name.endswith("_mb"):
        return "MB"
    if name.endswith("_per_sec") or name.endswith("_per_second"):
        return "/s"
    return ""


def format_number(value: object, decimals: int = 0) -> str:
    """Grouped thousands, fixed decimals; a dash for missing or non-finite values."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if decimals == 0 or float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:,.{decimals}f}"


def format_value(name: str, value: object) -> tuple[str, str]:
    """(number, unit) ready for display, e.g. ("41.7", "%") or ("1.24", "s")."""
    fmt = metric_format(name)
    if fmt.unit == "up/down":
        if isinstance(value, int | float):
            return ("up" if value >= 1 else "down"), ""
        return "—", ""
    if fmt.unit == "ms" and isinstance(value, int | float) and not isinstance(value, bool) and value >= 1000:
        return format_number(value / 1000, 2), "s"
    if fmt.unit == "B/s" and isinstance(value, int | float) and not isinstance(value, bool):
        return format_bytes_rate(value)
    return format_number(value, fmt.decimals), fmt.unit


def format_bytes_rate(value: float) -> tuple[str, str]:
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if abs(value) >= size:
            return format_number(value / size, 1), unit
    return format_number(value), "B/s"
