"""The latest payload laid out for people: named sections of labelled values with units, and the workers table.

Written for the provider status payload (docs/upstream-payload.md); any other JSON
object still gets its raw view, and whichever of these sections it happens to have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashboard.units import format_bytes_rate, format_number
from metrics.extraction import value_at

# Units of payload fields by key name.
FIELD_UNITS: dict[str, str] = {
    "cpu_load": "%",
    "wait_time": "ms",
    "time_to_return": "ms",
    "total_worker_memory": "MB",
    "avg_worker_load": "%",
    "error_rate": "%",
    "requests_per_second": "/s",
    "uptime_percent": "%",
    "p50": "ms",
    "p90": "ms",
    "p95": "ms",
    "p99": "ms",
    "deployment_duration_minutes": "min",
    "usage_percent": "%",
    "available_mb": "MB",
    "total_mb": "MB",
    "swap_usage_percent": "%",
    "disk_usage_percent": "%",
    "io_wait_percent": "%",
    "read_ops_per_sec": "/s",
    "write_ops_per_sec": "/s",
    "bytes_in_per_sec": "B/s",
    "bytes_out_per_sec": "B/s",
    "latency_ms": "ms",
}
LABELS: dict[str, str] = {
    "p50": "p50",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
    "cpus": "CPUs",
    "cpu_load": "CPU load",
    "io_wait_percent": "I/O wait",
    "online": "Online users",
    "session": "Sessions",
    "servers_count": "Servers",
    "requests_per_second": "Requests",
    "bytes_in_per_sec": "Bytes in",
    "bytes_out_per_sec": "Bytes out",
    "latency_ms": "Latency",
    "usage_percent": "Used",
    "swap_usage_percent": "Swap used",
    "disk_usage_percent": "Disk used",
    "available_mb": "Available",
    "total_mb": "Total",
    "read_ops_per_sec": "Reads",
    "write_ops_per_sec": "Writes",
    "deployment_duration_minutes": "Deployment duration",
    "failed_deployments_last_week": "Failed deployments (7 d)",
}
# (title, path under "results") of the sections shown as label/value lists, in page order.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Performance", ("performance",)),
    ("Deployment", ("deployment",)),
    ("Memory", ("memory",)),
    ("Storage", ("storage",)),
    ("Network", ("network",)),
    ("Reported alerts", ("alerts",)),
    ("Security", ("security",)),
)
WORKER_COLUMNS = ("workers", "idle", "waiting", "wait_time", "time_to_return")
# Booleans that say whether something works (green yes, red no); every other yes/no is shown neutral.
HEALTH_FLAGS = frozenset({"healthy", "up", "ok", "available", "reachable"})
# Text fields whose values are good or bad news: key -> (good words, bad words); other values are neutral.
TONES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "build_status": (
        frozenset({"success", "succeeded", "passed"}),
        frozenset({"failed", "failure", "error", "broken"}),
    ),
    "threat_level": (frozenset({"low", "none"}), frozenset({"high", "critical", "severe"})),
}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    value: str
    unit: str = ""
    kind: str = "number"  # "number", "text", "bool", "time", "list"
    good: bool | None = None  # for booleans and statuses: colour hint


@dataclass(frozen=True)
class Section:
    title: str
    fields: list[Field]


@dataclass(frozen=True)
class WorkerRow:
    name: str
    cells: list[Field]
    blocked_keys: list[str]
    top_keys: list[tuple[str, str]]


def label_for(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    text = key.replace("_", " ").strip()
    for suffix in (" percent", " ms", " mb", " per sec", " minutes"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return text[:1].upper() + text[1:]


def field_for(key: str, value: Any) -> Field:
    label = label_for(key)
    unit = FIELD_UNITS.get(key, "")
    if isinstance(value, bool):
        # A yes/no is a plain fact ("Strict no" is a setting, not a failure): coloured only where it is health.
        return Field(key, label, "yes" if value else "no", kind="bool", good=value if key in HEALTH_FLAGS else None)
    if value is None:
        return Field(key, label, "—", kind="text")
    if isinstance(value, int | float):
        if unit == "B/s":
            number, unit = format_bytes_rate(value)
            return Field(key, label, number, unit)
        decimals = 0 if isinstance(value, int) else (2 if key == "error_rate" else 1)
        return Field(key, label, format_number(value, decimals), unit)
    if isinstance(value, list):
        return Field(key, label, ", ".join(str(v) for v in value) or "—", kind="list")
    if isinstance(value, Mapping):
        return Field(key, label, json.dumps(value, sort_keys=True)[:200], kind="text")
    text = str(value)
    kind = "time" if key.startswith("last_") and "T" in text else "text"
    good = None
    if key in TONES:
        # Only the words that are news get a colour; "pending" or "medium" are plain facts.
        good_words, bad_words = TONES[key]
        good = True if text.lower() in good_words else False if text.lower() in bad_words else None
    return Field(key, label, text[:200], kind=kind, good=good)


def _flatten(node: Mapping[str, Any]) -> list[Field]:
    fields: list[Field] = []
    for key, value in node.items():
        if isinstance(value, Mapping):
            # Nesting (response_times) reads best flattened: "p95" rather than a sub-table.
            fields.extend(_flatten(value))
        else:
            fields.append(field_for(str(key), value))
    return fields


def sections(payload: Mapping[str, Any]) -> list[Section]:
    out: list[Section] = []
    server = value_at(payload, ("results", "stats", "server"))
    stats = value_at(payload, ("results", "stats"))
    if isinstance(stats, Mapping):
        fields = [field_for(k, v) for k, v in stats.items() if k != "server" and not isinstance(v, Mapping | list)]
        if isinstance(server, Mapping):
            fields += [field_for(k, v) for k, v in server.items() if not isinstance(v, Mapping | list)]
        if fields:
            out.append(Section("Server", fields))
    for title, path in SECTIONS:
        node = value_at(payload, ("results", *path))
        if isinstance(node, Mapping) and node:
            out.append(Section(title, _flatten(node)))
    return out


def services(payload: Mapping[str, Any]) -> list[tuple[str, bool]]:
    node = value_at(payload, ("results", "services"))
    if not isinstance(node, Mapping):
        return []
    return sorted((str(k), bool(v)) for k, v in node.items() if isinstance(v, bool))


def workers(payload: Mapping[str, Any]) -> list[WorkerRow]:
    """Rows from the ``[name, stats]`` pairs (a list, not an object, in the upstream payload)."""
    node = value_at(payload, ("results", "stats", "server", "workers"))
    if not isinstance(node, list):
        return []
    rows = []
    for item in node:
        if not (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], Mapping)):
            continue
        name, stats = str(item[0]), item[1]
        blocked = stats.get("recently_blocked_keys")
        top = stats.get("top_keys")
        rows.append(
            WorkerRow(
                name=name,
                cells=[field_for(col, stats.get(col)) for col in WORKER_COLUMNS],
                blocked_keys=[str(k) for k in blocked] if isinstance(blocked, list) else [],
                top_keys=[
                    (str(pair[0]), format_number(pair[1]))
                    for pair in (top if isinstance(top, list) else [])
                    if isinstance(pair, list | tuple) and len(pair) == 2
                ],
            )
        )
    return rows


def server_issue(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The issue object, decoded: upstream sends it as a JSON-encoded string."""
    raw = payload.get("server_issue")
    if not raw:
        return None
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        try:
            decoded = json.loads(raw)
        except ValueError:
            return {"message": raw[:500]}
        if isinstance(decoded, dict):
            return decoded
        return {"message": str(decoded)[:500]}
    return {"message": str(raw)[:500]}


def summary(payload: Mapping[str, Any]) -> list[Field]:
    out = []
    for key in ("status", "version", "strict", "roles"):
        if key in payload:
            f = field_for(key, payload[key])
            if key == "status":
                f = Field(f.key, "Reported status", f.value, kind="text", good=str(payload[key]).lower() == "ok")
            out.append(f)
    return out
