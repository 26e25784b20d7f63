"""The JSON shape of what the store holds: snapshots, history entries, diffs and series buckets, in one place.

The HTTP API, the WebSocket protocol (replies and the update events the poller's changes become) and
exports (``metrics/lifecycle/records.py``, with ``EXPORT_FORM``) all show the same records with the
same keys. The published forms differ in two details only, both kept because clients already parse
them; a ``JsonForm`` carries them:

- how a time is written: the API writes UTC with a ``Z`` (``2026-01-01T12:00:00.500000Z``), the WebSocket
  writes the stored time's own ISO form (``2026-01-01T12:00:00.500000+00:00``);
- the key order of one change in a diff: ``path, kind, old, new`` in the API, ``path, old, new, kind``
  on the WebSocket (the same keys and values; only the bytes differ).

Every function takes the form as ``form=`` (the API's by default), so another reader (an export with
its own time format) names its own ``JsonForm`` instead of writing the shapes again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from metrics.stores.base import CHANGE_KEYS, FieldChange, HistoryEntry, RecordResult, SeriesBucket, Snapshot

JsonObject = dict[str, Any]


def utc_z(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; a naive time is taken as UTC."""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def own_iso(value: datetime) -> str:
    """The time's own ISO 8601 form (the stores hand out aware UTC times: ``+00:00``)."""
    return value.isoformat()


@dataclass(frozen=True)
class JsonForm:
    """What differs between published forms of the same records (see the module docstring)."""

    name: str
    time: Callable[[datetime], str]
    change_keys: tuple[str, str, str, str]


def utc_microseconds(value: datetime) -> str:
    """UTC with all six fractional digits, so equal times always give equal bytes (exports and archives)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


API_FORM = JsonForm("api", utc_z, ("path", "kind", "old", "new"))
# The WebSocket's changes are the stored form itself (metrics.stores.base.CHANGE_KEYS): a change's update event
# sends the list its store wrote (``record_diff_json``) instead of making it again.
WEBSOCKET_FORM = JsonForm("websocket", own_iso, CHANGE_KEYS)
# Export and archive lines (metrics/lifecycle/records.py) sort their keys, so only the time form matters.
EXPORT_FORM = JsonForm("export", utc_microseconds, CHANGE_KEYS)


def time_json(value: datetime | None, *, form: JsonForm = API_FORM) -> str | None:
    return None if value is None else form.time(value)


def change_json(change: FieldChange, *, form: JsonForm = API_FORM) -> JsonObject:
    """One field's change: ``path`` (dotted), ``kind`` (added, removed, changed), ``old`` and ``new``."""
    values = {"path": change.path, "kind": change.kind, "old": change.old, "new": change.new}
    return {key: values[key] for key in form.change_keys}


def diff_json(changes: Iterable[FieldChange], *, form: JsonForm = API_FORM) -> list[JsonObject]:
    return [change_json(change, form=form) for change in changes]


def record_diff_json(result: RecordResult, *, form: JsonForm = API_FORM) -> list[JsonObject]:
    """A recorded change's diff in ``form``: in the stored form, the list the store made for its history entry
    (``RecordResult.diff_json``), shared, so a receiver must not change it."""
    if form.change_keys == CHANGE_KEYS:
        return result.diff_json()
    return diff_json(result.diff, form=form)


def snapshot_json(snapshot: Snapshot, *, with_payload: bool, form: JsonForm = API_FORM) -> JsonObject:
    """A source's latest snapshot; ``payload`` (the whole document) last, when asked for."""
    data: JsonObject = {
        "source": snapshot.source,
        "hash": snapshot.hash,
        "sequence": snapshot.sequence,
        "fetched_at": form.time(snapshot.fetched_at),
        "last_seen_at": form.time(snapshot.last_seen_at),
        "metrics": metrics_json(snapshot.metrics) if form is API_FORM else snapshot.metrics,
    }
    if with_payload:
        data["payload"] = snapshot.payload
    return data


def history_entry_json(entry: HistoryEntry, *, with_payload: bool = True, form: JsonForm = API_FORM) -> JsonObject:
    """One stored change: its metrics, the diff from the entry before, and (when asked for) the document."""
    data: JsonObject = {
        "id": entry.id,
        "hash": entry.hash,
        "sequence": entry.sequence,
        "fetched_at": form.time(entry.fetched_at),
        "metrics": metrics_json(entry.metrics) if form is API_FORM else entry.metrics,
        "diff": diff_json(entry.diff, form=form),
    }
    if with_payload:
        data["payload"] = entry.payload
    return data


def change_entry_json(entry: HistoryEntry, *, form: JsonForm = API_FORM) -> JsonObject:
    """A history entry as a "what changed" feed item: no metrics, no document, the diff as ``changes``."""
    return {
        "id": entry.id,
        "hash": entry.hash,
        "sequence": entry.sequence,
        "fetched_at": form.time(entry.fetched_at),
        "changes": diff_json(entry.diff, form=form),
    }


def bucket_json(bucket: SeriesBucket, *, form: JsonForm = API_FORM) -> JsonObject:
    """One series bucket: its start and the min, average, max and count of the values in it."""
    return {
        "start": form.time(bucket.start),
        "min": number(bucket.min),
        "avg": average(bucket.avg),
        "max": number(bucket.max),
        "count": bucket.count,
    }


# --- numbers as people read them -------------------------------------------------------------
MEASURED_DIGITS = 12  # significant digits of a stored value: drops float noise (0.1 + 0.2), keeps what was sent
AVERAGE_DIGITS = 6  # significant digits of a computed average: more would be noise of the arithmetic
EXACT_INTEGERS = 2**53  # beyond this a float is not an exact integer in JSON readers


def number(value: float | int | None, digits: int = MEASURED_DIGITS) -> float | int | None:
    """An integer when the value is a whole number (``52592.0`` -> ``52592``), else rounded to ``digits``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        return value
    rounded = float(f"{value:.{digits}g}")
    if rounded.is_integer() and abs(rounded) < EXACT_INTEGERS:
        return int(rounded)
    return rounded


def average(value: float | int | None) -> float | int | None:
    """An average (``53.150000000000006`` -> ``53.15``): ``AVERAGE_DIGITS`` significant digits."""
    return number(value, AVERAGE_DIGITS)


def metrics_json(metrics: dict[str, float]) -> dict[str, float | int | None]:
    return {name: number(value) for name, value in metrics.items()}
