"""Store records as JSON objects: one format for archives, export and import (NDJSON lines).

Every line is one object with a ``kind``: ``header`` (an export's first line), ``history`` (a raw
history entry), ``diff`` (a part of a history entry's diff, see below), ``latest`` (a source's current
snapshot) or ``rollup`` (one rollup bucket).

Every line is within ``jsonlimits.import_record_budget()``, the budget every reader of these lines holds
them to. A history entry whose one line would be over it (a diff of many changes: each names its whole
path, so a diff can outweigh its document many times) is written as a ``history`` record with an empty
``diff`` and ``diff_parts: n``, followed at once by ``n`` ``diff`` records (``source``, ``sequence``,
``part`` 1..n, ``changes``: the next changes of the diff, in order), each within the budget
(``history_lines``). Entries whose line fits are written as before, so such files are unchanged.
Keys are sorted and times are ISO 8601 in UTC with microseconds, so the same data always gives
the same bytes: an export, a wipe, an import and a second export give identical files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from metrics import jsonlimits
from metrics.rollups import TIER_SECONDS, RollupBucket
from metrics.serialization import EXPORT_FORM, diff_json
from metrics.stores.base import FieldChange, HistoryEntry, Snapshot

JsonObject = dict[str, Any]


KINDS = frozenset({"header", "history", "diff", "latest", "rollup"})
FORMAT = "devops-insights-metrics"
FORMAT_VERSION = 1


def header_record() -> JsonObject:
    """The first line of an export: what the file is (no timestamp, so exports of equal data are equal)."""
    return {"kind": "header", "format": FORMAT, "version": FORMAT_VERSION}


class RecordFormatError(ValueError):
    """A line is not a record this version can read (names the line and what is wrong)."""


class RecordTooLargeError(ValueError):
    """What the store holds cannot be written as lines the import accepts: it was stored under larger limits
    (``METRICS_MAX_PAYLOAD_BYTES``, ``POLLER_MAX_JSON_DEPTH``) than the ones in force now."""


def iso(moment: datetime) -> str:
    return EXPORT_FORM.time(moment)


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise RecordFormatError(f"{field} must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordFormatError(f"{field} is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise RecordFormatError(f"{field} has no time zone: {value!r}")
    return moment.astimezone(UTC)


def dumps(record: Mapping[str, Any]) -> str:
    # allow_nan=False: the stores refuse NaN/Infinity, so one in a record is a bug, not data.
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def history_record(entry: HistoryEntry) -> JsonObject:
    return {
        "kind": "history",
        "source": entry.source,
        "sequence": entry.sequence,
        "hash": entry.hash,
        "fetched_at": iso(entry.fetched_at),
        "metrics": entry.metrics,
        "diff": diff_json(entry.diff, form=EXPORT_FORM),
        "payload": entry.payload,
    }


def latest_record(snapshot: Snapshot) -> JsonObject:
    return {
        "kind": "latest",
        "source": snapshot.source,
        "sequence": snapshot.sequence,
        "hash": snapshot.hash,
        "fetched_at": iso(snapshot.fetched_at),
        "last_seen_at": iso(snapshot.last_seen_at),
        "metrics": snapshot.metrics,
        "poll_meta": snapshot.poll_meta,
        "payload": snapshot.payload,
    }


def rollup_record(bucket: RollupBucket) -> JsonObject:
    return {
        "kind": "rollup",
        "source": bucket.source,
        "metric": bucket.metric,
        "tier": bucket.tier,
        "start": iso(bucket.start),
        "count": bucket.count,
        "min": bucket.min,
        "max": bucket.max,
        "sum": bucket.sum,
        "last": bucket.last,
        "last_at": iso(bucket.last_at),
    }


def _fits(line: str, budget: jsonlimits.JsonBudget) -> bool:
    try:
        jsonlimits.check_text(line, budget)
    except jsonlimits.JsonBudgetError:
        return False
    return True


def _checked(line: str, budget: jsonlimits.JsonBudget, what: str) -> str:
    try:
        jsonlimits.check_text(line, budget)
    except jsonlimits.JsonBudgetError as exc:
        raise RecordTooLargeError(
            f"{what} cannot be exported as a line the import accepts: {exc}; it was stored under larger limits, "
            "raise the setting named to what it was then"
        ) from None
    return line


def latest_line(snapshot: Snapshot, budget: jsonlimits.JsonBudget) -> str:
    """The snapshot's export line, within ``budget`` (else RecordTooLargeError)."""
    return _checked(dumps(latest_record(snapshot)), budget, f"the latest snapshot of {snapshot.source}")


def history_lines(entry: HistoryEntry, budget: jsonlimits.JsonBudget) -> list[str]:
    """The entry's export lines, each within ``budget``: its one ``history`` line when that fits, else the
    history line without its diff and the diff in as few ``diff`` lines as fit (see the module docstring).

    RecordTooLargeError when even that cannot fit: a document, or one change, over the budget (possible
    only for an entry stored under larger limits than the budget's).
    """
    record = history_record(entry)
    line = dumps(record)
    if _fits(line, budget):
        return [line]
    what = f"history entry {entry.sequence} of {entry.source}"
    parts = _diff_lines(entry.source, entry.sequence, record["diff"], budget, what)
    head = _checked(dumps({**record, "diff": [], "diff_parts": len(parts)}), budget, what)
    return [head, *parts]


def _diff_part(source: str, sequence: int, part: int, changes: list[JsonObject]) -> JsonObject:
    return {"kind": "diff", "source": source, "sequence": sequence, "part": part, "changes": changes}


def _diff_lines(
    source: str, sequence: int, changes: list[JsonObject], budget: jsonlimits.JsonBudget, what: str
) -> list[str]:
    """The changes packed in order into as few ``diff`` lines as fit ``budget``.

    A line's shape is its empty record's plus its changes' (``measure`` counts are additive: each change adds
    its size and a comma, its items and one element, and nests two levels below the record), so each change
    is measured once, alone; the empty record is measured with the highest part number, an upper bound.
    """
    empty = jsonlimits.measure(dumps(_diff_part(source, sequence, len(changes), [])))
    max_items = budget.max_items if budget.max_items is not None else float("inf")
    lines: list[str] = []
    members: list[JsonObject] = []
    size = items = depth = 0
    for change in changes:
        shape = jsonlimits.measure(dumps(change))
        grown = (
            empty.size + size + shape.size + len(members) <= budget.max_bytes
            and empty.items + items + shape.items + len(members) + 1 <= max_items
            and max(empty.depth, depth, 2 + shape.depth) <= budget.max_depth
        )
        if not grown and members:
            lines.append(_checked(dumps(_diff_part(source, sequence, len(lines) + 1, members)), budget, what))
            members, size, items, depth = [], 0, 0, 0
        members.append(change)
        size, items, depth = size + shape.size, items + shape.items, max(depth, 2 + shape.depth)
    # A change over the budget on its own fails here, in the check of its line.
    if members or not lines:
        lines.append(_checked(dumps(_diff_part(source, sequence, len(lines) + 1, members)), budget, what))
    return lines


def _require(record: Mapping[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
    value = record.get(field)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise RecordFormatError(f"{field} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _metrics(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise RecordFormatError("metrics must be an object of numbers")
    return {str(k): float(v) for k, v in value.items()}


def _changes(items: list[Any], field: str) -> list[FieldChange]:
    try:
        return [FieldChange(path=c["path"], old=c.get("old"), new=c.get("new"), kind=c["kind"]) for c in items]
    except (KeyError, TypeError):
        raise RecordFormatError(f"{field} must be a list of {{path, old, new, kind}}") from None


def diff_parts(record: Mapping[str, Any]) -> int:
    """How many ``diff`` records follow a history record (0: its diff is whole on its line)."""
    if "diff_parts" not in record:
        return 0
    parts = record["diff_parts"]
    if not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
        raise RecordFormatError("diff_parts must be a positive whole number")
    if record.get("diff") != []:
        raise RecordFormatError("a history record with diff_parts has an empty diff")
    return parts


def parse_diff_part(record: Mapping[str, Any]) -> tuple[str, int, int, list[FieldChange]]:
    """A ``diff`` record: (source, sequence, part, changes)."""
    part = _require(record, "part", int)
    if part < 1:
        raise RecordFormatError("part must be a positive whole number")
    changes = _changes(_require(record, "changes", list), "changes")
    return _require(record, "source", str), _require(record, "sequence", int), part, changes


def parse_history(record: Mapping[str, Any]) -> HistoryEntry:
    changes = _changes(_require(record, "diff", list), "diff")
    diff_parts(record)
    return HistoryEntry(
        id="",
        source=_require(record, "source", str),
        hash=_require(record, "hash", str),
        payload=_require(record, "payload", dict),
        metrics=_metrics(record.get("metrics")),
        diff=changes,
        fetched_at=parse_time(record.get("fetched_at"), "fetched_at"),
        sequence=_require(record, "sequence", int),
    )


def parse_latest(record: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        source=_require(record, "source", str),
        hash=_require(record, "hash", str),
        payload=_require(record, "payload", dict),
        metrics=_metrics(record.get("metrics")),
        fetched_at=parse_time(record.get("fetched_at"), "fetched_at"),
        last_seen_at=parse_time(record.get("last_seen_at"), "last_seen_at"),
        sequence=_require(record, "sequence", int),
        poll_meta=_require(record, "poll_meta", dict),
    )


def parse_rollup(record: Mapping[str, Any]) -> RollupBucket:
    tier = _require(record, "tier", str)
    if tier not in TIER_SECONDS:
        raise RecordFormatError(f"tier must be one of {', '.join(TIER_SECONDS)}, got {tier!r}")
    numbers = {}
    for field in ("min", "max", "sum", "last"):
        value = record.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise RecordFormatError(f"{field} must be a number")
        numbers[field] = float(value)
    return RollupBucket(
        source=_require(record, "source", str),
        metric=_require(record, "metric", str),
        tier=tier,
        start=parse_time(record.get("start"), "start"),
        count=_require(record, "count", int),
        last_at=parse_time(record.get("last_at"), "last_at"),
        **numbers,
    )


def loads(line: str, line_number: int) -> JsonObject:
    """One line, measured against the import budget before it is parsed (a line nested thousands deep would
    otherwise raise RecursionError half-way through an import)."""
    try:
        record = jsonlimits.loads(line, jsonlimits.import_record_budget())
    except jsonlimits.JsonBudgetError as exc:
        raise RecordFormatError(f"line {line_number}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RecordFormatError(f"line {line_number}: not JSON ({exc.msg})") from None
    if not isinstance(record, dict) or record.get("kind") not in KINDS:
        raise RecordFormatError(f"line {line_number}: expected an object with kind {', '.join(sorted(KINDS))}")
    return record
