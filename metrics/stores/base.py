"""The MetricStore contract: what every metric store does, whatever database is behind it.

Callers (poller, API, dashboards, realtime) depend on this module only, never on a concrete store.
Stores take a ``SourceSpec`` rather than the ``Source`` model so that the MongoDB store never
touches the relational database.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

JsonObject = dict[str, Any]


class StoreError(Exception):
    """The backing database failed (outage, timeout). Nothing stored was changed; retrying is safe."""


class PayloadError(ValueError):
    """The payload cannot be stored (not an object, too large, NaN/Infinity). Nothing stored was changed."""


@dataclass(frozen=True)
class SourceSpec:
    """What a store needs to know about a source."""

    slug: str
    # metric name -> dotted path into the payload (see metrics.extraction for the path syntax)
    metric_paths: Mapping[str, str] = field(default_factory=dict)
    # dotted paths left out of the hash and the diff (timestamps, counters that always move)
    volatile_paths: Sequence[str] = ()


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any
    kind: str  # "changed" | "added" | "removed"


@dataclass(frozen=True)
class RecordResult:
    changed: bool
    hash: str
    metrics: dict[str, float]
    sequence: int  # per-source change counter: +1 on every changed record
    diff: list[FieldChange]


@dataclass(frozen=True)
class Snapshot:
    source: str
    hash: str
    payload: JsonObject
    metrics: dict[str, float]
    fetched_at: datetime  # when this content was first fetched
    last_seen_at: datetime  # when it was last fetched unchanged
    sequence: int
    poll_meta: JsonObject


@dataclass(frozen=True)
class HistoryEntry:
    id: str
    source: str
    hash: str
    payload: JsonObject
    metrics: dict[str, float]
    diff: list[FieldChange]
    fetched_at: datetime
    sequence: int


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None  # opaque; pass back to get the next (older) page


@dataclass(frozen=True)
class SeriesBucket:
    start: datetime
    min: float
    avg: float
    max: float
    count: int


@dataclass(frozen=True)
class StoreStats:
    backend: str
    history_count: int
    latest_count: int
    oldest: datetime | None
    newest: datetime | None
    size_bytes: int | None


class MetricStore(abc.ABC):
    backend: str

    @abc.abstractmethod
    def record(
        self, source: SourceSpec, payload: JsonObject, fetched_at: datetime, poll_meta: JsonObject | None = None
    ) -> RecordResult:
        """Store a fetched payload: a history entry only when its hash differs from the latest."""

    @abc.abstractmethod
    def latest(self, source: str) -> Snapshot | None: ...

    @abc.abstractmethod
    def latest_all(self) -> dict[str, Snapshot]:
        """Every source's latest snapshot in one round trip."""

    @abc.abstractmethod
    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        """Newest first. ``cursor`` comes from a previous page; a bad cursor raises ValueError."""

    @abc.abstractmethod
    def series(self, source: str, metric: str, start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
        """Buckets aligned to multiples of ``bucket`` since the epoch, oldest first, computed in the database."""

    @abc.abstractmethod
    def prune(self, source: str | None, before: datetime) -> int:
        """Delete history older than ``before`` (never the latest snapshot); return how many entries went."""

    @abc.abstractmethod
    def delete_source(self, source: str) -> None:
        """Forget a source entirely (latest and history)."""

    @abc.abstractmethod
    def stats(self) -> StoreStats: ...

    def ensure_schema(self) -> None:  # noqa: B027 - optional hook, a no-op where migrations do the work
        """Create indexes or other server-side structures idempotently."""

    def defer_seen_writes(self) -> None:  # noqa: B027 - optional hook, a no-op where there is nothing to defer
        """Opt in (a poller): an unchanged record only reads, and its ``last_seen_at`` waits for ``flush``."""

    def flush(self) -> int:
        """Write what ``defer_seen_writes`` held back; how many sources it wrote."""
        return 0
