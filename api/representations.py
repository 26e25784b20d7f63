"""How models and store records look in API responses (and in the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils import timezone

from metrics.stores.base import FieldChange, HistoryEntry, SeriesBucket, Snapshot
from pollers import health
from pollers.models import MASK, SECRET_HEADER_PATTERN, Source


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def masked_url(url: str) -> str:
    """The URL without secrets: a password in the user part or a credential-like query value is masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if sep else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if SECRET_HEADER_PATTERN.search(k) else v) for k, v in pairs], safe=MASK)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def poll_status(source: Source, now: datetime | None = None) -> str:
    """``health.status``, by ``pollers.health``'s rules: disabled, pending, ok, failing or stale.

    The API's word list predates the circuit breaker: an open circuit reads "failing" here, and
    ``health.circuit_state`` says which.
    """
    state = health.assess(source, now).state
    return health.FAILING if state == health.CIRCUIT_OPEN else state


def source_data(source: Source) -> dict[str, Any]:
    return {
        "slug": source.slug,
        "name": source.name,
        "url": masked_url(source.url),
        "enabled": source.enabled,
        "interval_seconds": source.interval_seconds,
        "timeout_seconds": source.timeout_seconds,
        "headers": source.masked_headers(),
        "region": source.region,
        "tags": list(source.tags or []),
        "metric_paths": dict(source.metric_paths or {}),
        "volatile_paths": list(source.volatile_paths or []),
        "alert_state": source.alert_state,
        "created_at": iso(source.created_at),
        "updated_at": iso(source.updated_at),
        "health": {
            "status": poll_status(source),
            "last_polled_at": iso(source.last_polled_at),
            "last_success_at": iso(source.last_success_at),
            "last_error_at": iso(source.last_error_at),
            "last_error_kind": source.last_error_kind,
            "last_error_message": source.last_error_message,
            "consecutive_failures": source.consecutive_failures,
            "circuit_state": source.circuit_state,
            "last_latency_ms": source.last_latency_ms,
            "last_status_code": source.last_status_code,
        },
    }


def snapshot_data(snapshot: Snapshot, *, with_payload: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source": snapshot.source,
        "hash": snapshot.hash,
        "sequence": snapshot.sequence,
        "fetched_at": iso(snapshot.fetched_at),
        "last_seen_at": iso(snapshot.last_seen_at),
        "metrics": snapshot.metrics,
    }
    if with_payload:
        data["payload"] = snapshot.payload
    return data


def change_data(change: FieldChange) -> dict[str, Any]:
    return {"path": change.path, "kind": change.kind, "old": change.old, "new": change.new}


def history_entry_data(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "hash": entry.hash,
        "sequence": entry.sequence,
        "fetched_at": iso(entry.fetched_at),
        "metrics": entry.metrics,
        "diff": [change_data(change) for change in entry.diff],
        "payload": entry.payload,
    }


def changes_entry_data(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "hash": entry.hash,
        "sequence": entry.sequence,
        "fetched_at": iso(entry.fetched_at),
        "changes": [change_data(change) for change in entry.diff],
    }


def bucket_data(bucket: SeriesBucket) -> dict[str, Any]:
    return {"start": iso(bucket.start), "min": bucket.min, "avg": bucket.avg, "max": bucket.max, "count": bucket.count}
