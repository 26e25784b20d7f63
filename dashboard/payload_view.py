"""The latest payload laid out for people: named sections of labelled values with units, and the workers table.

Written for the provider status payload (docs/upstream-payload.md); any other JSON
object still gets its raw view, and whichever of these sections it happens to have.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dashboard.raw_json import short
from metrics.extraction import value_at
from metrics.jsonlimits import JsonBudget, JsonBudgetError
from metrics.jsonlimits import loads as bounded_loads
from metrics.units import format_bytes_rate, format_number

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

# Whatever the upstream sends, the page stays bounded (docs/security.md): counts and lengths are capped.
MAX_TEXT = 200  # characters of one shown value
MAX_LABEL = 80
MAX_FIELDS_PER_SECTION = 40
MAX_SECTION_DEPTH = 4  # nested objects flattened into a section, deeper ones shown as a short text
MAX_SERVICES = 60
MAX_WORKERS = 100
MAX_WORKER_KEYS = 10
MAX_LIST_ITEMS = 20
# server_issue arrives as a JSON-encoded string: parsed within a small budget, else shown as text.
ISSUE_BUDGET = JsonBudget(max_bytes=64 * 1024, max_depth=8, max_items=1000, what="the server issue")


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
    text = key[:MAX_LABEL].replace("_", " ").strip()
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
        shown = ", ".join(_item_text(v) for v in value[:MAX_LIST_ITEMS])
        if len(value) > MAX_LIST_ITEMS:
            shown += f" and {len(value) - MAX_LIST_ITEMS} more"
        return Field(key, label, _cut(shown) or "—", kind="list")
    if isinstance(value, Mapping):
        return Field(key, label, short(value, MAX_TEXT), kind="text")
    text = str(value)
    kind = "time" if key.startswith("last_") and "T" in text else "text"
    good = None
    if key in TONES:
        # Only the words that are news get a colour; "pending" or "medium" are plain facts.
        good_words, bad_words = TONES[key]
        good = True if text.lower() in good_words else False if text.lower() in bad_words else None
    return Field(key, label, text[:200], kind=kind, good=good)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _item_text(value: Any) -> str:
    # str() of a nested list recurses once per level: containers go through the bounded writer.
    return short(value, MAX_TEXT) if isinstance(value, Mapping | list | tuple) else _cut(str(value))


def _flatten(node: Mapping[str, Any]) -> list[Field]:
    """Nesting (response_times) reads best flattened: "p95" rather than a sub-table. Iterative and capped."""
    fields: list[Field] = []
    stack: list[tuple[Iterator[tuple[Any, Any]], int]] = [(iter(node.items()), 1)]
    while stack and len(fields) < MAX_FIELDS_PER_SECTION:
        items, depth = stack[-1]
        entry = next(items, None)
        if entry is None:
            stack.pop()
            continue
        key, value = entry
        if isinstance(value, Mapping) and depth < MAX_SECTION_DEPTH:
            stack.append((iter(value.items()), depth + 1))
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
            out.append(Section("Server", fields[:MAX_FIELDS_PER_SECTION]))
    for title, path in SECTIONS:
        node = value_at(payload, ("results", *path))
        if isinstance(node, Mapping) and node:
            out.append(Section(title, _flatten(node)))
    return out


def services(payload: Mapping[str, Any]) -> list[tuple[str, bool]]:
    node = value_at(payload, ("results", "services"))
    if not isinstance(node, Mapping):
        return []
    return sorted((_cut(str(k)), bool(v)) for k, v in node.items() if isinstance(v, bool))[:MAX_SERVICES]


def workers(payload: Mapping[str, Any]) -> list[WorkerRow]:
    """Rows from the ``[name, stats]`` pairs (a list, not an object, in the upstream payload)."""
    node = value_at(payload, ("results", "stats", "server", "workers"))
    if not isinstance(node, list):
        return []
    rows: list[WorkerRow] = []
    for item in node:
        if len(rows) >= MAX_WORKERS:
            break
        if not (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], Mapping)):
            continue
        name, stats = _item_text(item[0]), item[1]
        blocked = stats.get("recently_blocked_keys")
        top = stats.get("top_keys")
        rows.append(
            WorkerRow(
                name=name,
                cells=[field_for(col, stats.get(col)) for col in WORKER_COLUMNS],
                blocked_keys=[_item_text(k) for k in blocked[:MAX_WORKER_KEYS]] if isinstance(blocked, list) else [],
                top_keys=[
                    (_item_text(pair[0]), format_number(pair[1]))
                    for pair in (top[:MAX_WORKER_KEYS] if isinstance(top, list) else [])
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
        return _issue_fields(raw)
    if isinstance(raw, str):
        try:
            decoded = bounded_loads(raw, ISSUE_BUDGET)
        except (JsonBudgetError, ValueError):
            return {"message": raw[:500]}
        if isinstance(decoded, dict):
            return _issue_fields(decoded)
        return {"message": _item_text(decoded)}
    return {"message": _item_text(raw)}


def _issue_fields(issue: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the page shows, each bounded: a hostile issue cannot grow the page."""
    out: dict[str, Any] = {}
    for key in ("type", "code"):
        if issue.get(key) is not None:
            out[key] = _item_text(issue[key])[:100]
    if issue.get("message") is not None:
        message = issue["message"]
        out["message"] = message[:500] if isinstance(message, str) else _item_text(message)
    affected = issue.get("affectedServices")
    if isinstance(affected, list):
        out["affectedServices"] = [_item_text(name)[:100] for name in affected[:MAX_LIST_ITEMS]]
    return out


def summary(payload: Mapping[str, Any]) -> list[Field]:
    out = []
    for key in ("status", "version", "strict", "roles"):
        if key in payload:
            f = field_for(key, payload[key])
            if key == "status":
                f = Field(f.key, "Reported status", f.value, kind="text", good=str(payload[key]).lower() == "ok")
            out.append(f)
    return out
