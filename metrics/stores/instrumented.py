"""A MetricStore that times every call of the store it wraps: latency histogram, errors, spans.

``get_store()`` wraps the concrete store in it, so every area's store calls are measured in one
place (``devops_insights_store_operation_seconds{backend, operation}``), and traced as
``store.<operation>`` spans when tracing is on. Methods beyond the contract (rollups, restore)
pass straight through to the wrapped store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from metrics.stores.base import (
    HistoryPage,
    JsonObject,
    MetricStore,
    RecordResult,
    SeriesBucket,
    Snapshot,
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
            raise
        finally:
            instruments.STORE_OPERATION_SECONDS.labels(backend=self.backend, operation=operation).observe(
                time.perf_counter() - started
            )

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

    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        return self._call("history", lambda: self.inner.history(source, start, end, limit, cursor), source)

    def series(self, source: str, metric: str, start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
        return self._call("series", lambda: self.inner.series(source, metric, start, end, bucket), source)

    def prune(self, source: str | None, before: datetime) -> int:
        return self._call("prune", lambda: self.inner.prune(source, before), source)

    def delete_source(self, source: str) -> None:
        self._call("delete_source", lambda: self.inner.delete_source(source), source)

    def stats(self) -> StoreStats:
        return self._call("stats", self.inner.stats)

    def ensure_schema(self) -> None:
        self._call("ensure_schema", self.inner.ensure_schema)

    def defer_seen_writes(self) -> None:
        self.inner.defer_seen_writes()

    def flush(self) -> int:
        return self.inner.flush()
