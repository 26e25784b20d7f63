"""Store records as JSON objects: one format for archives, export and import (NDJSON lines).

Every line is one object with a ``kind``: ``header`` (an export's first line), ``history`` (a raw
history entry), ``latest`` (a source's current snapshot) or ``rollup`` (one rollup bucket).
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


KINDS = frozenset({"header", "history", "latest", "rollup"})
FORMAT = "devops-insights-metrics"
FORMAT_VERSION = 1


def header_record() -> JsonObject:
    """The first line of an export: what the file is (no timestamp, so exports of equal data are equal)."""
    return {"kind": "header", "format": FORMAT, "version": FORMAT_VERSION}


class RecordFormatError(ValueError):
    """A line is not a record this version can read (names the line and what is wrong)."""


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


def parse_history(record: Mapping[str, Any]) -> HistoryEntry:
    diff = _require(record, "diff", list)
    try:
        changes = [FieldChange(path=c["path"], old=c.get("old"), new=c.get("new"), kind=c["kind"]) for c in diff]
    except (KeyError, TypeError):
        raise RecordFormatError("diff must be a list of {path, old, new, kind}") from None
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
