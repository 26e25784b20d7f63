"""A MetricStore that times every call of the store it wraps: latency histogram, errors, spans.

``get_store()`` wraps the concrete store in it, so every area's store calls are measured in one
place (``devops_insights_store_operation_seconds{backend, operation}``), and traced as
``store.<operation>`` spans when tracing is on. Methods beyond the contract (rollups, restore)
pass straight through to the wrapped store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from metrics.signals import store_availability_changed
from metrics.stores.arguments import source_slugs
from metrics.stores.base import (
    AvailabilityBucket,
    AvailabilitySpan,
    HistoryEntry,
    HistoryPage,
    JsonObject,
    MetricStore,
    PollSample,
    RecordResult,
    SeriesBucket,
    SeriesKey,
    Snapshot,
    SnapshotHead,
    SourceSpec,
    StoreError,
    StoreStats,
)
from observability import instruments, tracing

T = TypeVar("T")


class InstrumentedStore(MetricStore):
    def __init__(self, inner: MetricStore) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.failing = False  # the last call here raised StoreError (metrics.signals)

    def __repr__(self) -> str:
        return f"InstrumentedStore({self.inner!r})"

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this class lacks: the rollup and restore extensions, close().
        if name == "inner":  # not set yet (copy, unpickling): no endless recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    @contextmanager
    def _measured(self, operation: str, **attributes: str | None) -> Iterator[None]:
        started = time.perf_counter()
        try:
            with tracing.span(f"store.{operation}", backend=self.backend, **attributes):
                yield
        except StoreError:
            instruments.STORE_ERRORS.labels(backend=self.backend, operation=operation).inc()
            self._availability(available=False)
            raise
        else:
            if self.failing:
                self._availability(available=True)
        finally:
            instruments.STORE_OPERATION_SECONDS.labels(backend=self.backend, operation=operation).observe(
                time.perf_counter() - started
            )

    def _availability(self, *, available: bool) -> None:
        """Announce a transition only (a bool read per call otherwise); a race sends one more, harmlessly."""
        if self.failing != available:
            return
        self.failing = not available
        store_availability_changed.send_robust(sender=InstrumentedStore, available=available)

    def _call(self, operation: str, call: Callable[[], T], source: str | None = None) -> T:
        with self._measured(operation, source=source):
            return call()

    def record(
        self, source: SourceSpec, payload: JsonObject, fetched_at: datetime, poll_meta: JsonObject | None = None
    ) -> RecordResult:
        return self._call("record", lambda: self.inner.record(source, payload, fetched_at, poll_meta), source.slug)

    def latest(self, source: str) -> Snapshot | None:
        return self._call("latest", lambda: self.inner.latest(source), source)

    def latest_all(self) -> dict[str, Snapshot]:
        return self._call("latest_all", self.inner.latest_all)

    def latest_sources(self) -> list[str]:
        return self._call("latest_sources", self.inner.latest_sources)

    def latest_heads(self) -> dict[str, SnapshotHead]:
        return self._call("latest_heads", self.inner.latest_heads)

    def latest_of(self, sources: Iterable[str]) -> dict[str, Snapshot]:
        wanted = source_slugs(sources)  # listed once: a generator is read by the span and the store alike
        return self._call("latest_of", lambda: self.inner.latest_of(wanted), ",".join(wanted)[:200])

    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        return self._call("history", lambda: self.inner.history(source, start, end, limit, cursor), source)

    def history_in_order(self, source: str, after: int | None = None, limit: int = 500) -> list[HistoryEntry]:
        return self._call("history_in_order", lambda: self.inner.history_in_order(source, after, limit), source)

    def series(self, source: str, metric: str, start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
        return self._call("series", lambda: self.inner.series(source, metric, start, end, bucket), source)

    def series_many(
        self, keys: Sequence[SeriesKey], start: datetime, end: datetime, bucket: timedelta, tier: str
    ) -> dict[SeriesKey, list[SeriesBucket]]:
        return self._call("series_many", lambda: self.inner.series_many(keys, start, end, bucket, tier))

    def prune(self, source: str | None, before: datetime) -> int:
        return self._call("prune", lambda: self.inner.prune(source, before), source)

    def delete_source(self, source: str) -> None:
        self._call("delete_source", lambda: self.inner.delete_source(source), source)

    def stats(self) -> StoreStats:
        return self._call("stats", self.inner.stats)

    def ensure_schema(self) -> None:
        self._call("ensure_schema", self.inner.ensure_schema)

    # --- availability (uptime_summary and daily_availability are measured as the reads they make) --

    def record_poll_outcome(
        self, source: str, at: datetime, up: bool, latency_ms: float | None, error_kind: str = ""
    ) -> None:
        self._call(
            "record_poll_outcome",
            lambda: self.inner.record_poll_outcome(source, at, up, latency_ms, error_kind),
            source,
        )

    def record_poll_outcomes(self, outcomes: Sequence[tuple[str, PollSample]]) -> None:
        self._call("record_poll_outcomes", lambda: self.inner.record_poll_outcomes(outcomes), "many sources")

    def availability(
        self, source: str, tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> list[AvailabilityBucket]:
        return self._call(
            "availability", lambda: self.inner.availability(source, tier, start, end, latency=latency), source
        )

    def availability_of_sources(
        self, sources: Sequence[str], tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> dict[str, list[AvailabilityBucket]]:
        return self._call(
            "availability_of_sources",
            lambda: self.inner.availability_of_sources(sources, tier, start, end, latency=latency),
        )

    def availability_totals(self, source: str, spans: Sequence[AvailabilitySpan]) -> list[AvailabilityBucket]:
        return self._call("availability_totals", lambda: self.inner.availability_totals(source, spans), source)

    def availability_totals_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[AvailabilityBucket]:
        return self._call(
            "availability_totals_of", lambda: self.inner.availability_totals_of(sources, spans), ",".join(sources)[:200]
        )

    def availability_counts_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[tuple[int, int]]:
        return self._call(
            "availability_counts_of", lambda: self.inner.availability_counts_of(sources, spans), ",".join(sources)[:200]
        )

    def availability_counts_by_source(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> dict[str, list[tuple[int, int]]]:
        return self._call(
            "availability_counts_by_source",
            lambda: self.inner.availability_counts_by_source(sources, spans),
            ",".join(sources)[:200],
        )

    def prune_availability(self, source: str | None, tier: str, before: datetime, *, dry_run: bool = False) -> int:
        return self._call(
            "prune_availability",
            lambda: self.inner.prune_availability(source, tier, before, dry_run=dry_run),
            source,
        )

    def replace_backfilled_availability(self, source: str, since: datetime, samples: Iterable[PollSample]) -> int:
        return self._call(
            "replace_backfilled_availability",
            lambda: self.inner.replace_backfilled_availability(source, since, samples),
            source,
        )

    def oldest_live_availability(self, source: str) -> dict[str, datetime | None]:
        return self._call("oldest_live_availability", lambda: self.inner.oldest_live_availability(source), source)

    def defer_seen_writes(self) -> None:
        self.inner.defer_seen_writes()

    def flush(self) -> int:
        return self.inner.flush()
