"""A read-through cache in front of any MetricStore, with the same contract (``get_store()`` returns it).

Keys are versioned per source (djangoproject.com dashboard/ style): every changed write bumps the
source's generation counter *after* the database commit, and every read key embeds the current
generation. A reader that starts after a write returned therefore asks for a key nobody has filled
yet and reads the database: it never sees a snapshot older than the one just written, whatever TTL
is left on older keys (they simply stop being asked for and expire).

- ``latest(source)``, first ``history`` pages and ``series`` are keyed by the source's generation;
  ``prune``/retention bumps a prune generation that history and series keys also embed.
- ``latest_of(sources)`` reads the very keys ``latest(source)`` uses, all at once (one ``get_many``
  of the generations, one of the snapshots), and loads only the sources missing from the cache, in
  one store call.
- ``latest_all()``, ``latest_heads()`` and ``latest_sources()`` are not cached (straight to the
  store): ``last_seen_at`` moves on every poll without a generation moving, so one entry of every
  source would have to be read, patched and rewritten on every poll of any source, and warmed from
  every source's document on every change: a poll's cost would grow with the number of sources.
- A generation counter that vanished (Redis restart, eviction) restarts from the clock in
  nanoseconds, never from a small number an old key could still carry.
- Stampede: on a miss one reader takes a short lock (``cache.add``) and loads; the others wait for
  its value up to METRICS_CACHE_LOCK_WAIT seconds, then read the store themselves (never an older
  generation, which could be older than a write that just returned).
- The writer warms the source's ``latest`` key (one row read) on every changed write, and patches
  ``last_seen_at``/poll metadata into that key on unchanged writes: a poll touches its own source's
  keys only, whatever the number of sources.
- Cache failures (Redis down) never reach callers: reads fall back to the store, one warning is
  logged per outage, and the cache is skipped for METRICS_CACHE_RETRY_SECONDS before being retried.
- ``counters()`` returns hit/miss/error counts per operation for the metrics endpoint.

The cache is off (a pass-through) when the cache backend is process-local (local memory, dummy):
another process's writes could not bump its generations, so it could serve stale snapshots.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import BaseCache, caches

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
    StoreStats,
)
from observability import tracing

logger = logging.getLogger("metrics.cache")
T = TypeVar("T")

PROCESS_LOCAL_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django_prometheus.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
KEY_PREFIX = "metrics"
PRUNE = "prune"  # generation key bumped by prune and delete_source
LOCK_TIMEOUT = 10  # seconds a loader's lock lives if it dies while loading
_MISSING = object()

# Process-wide counters: several CachedMetricStore objects (tests, benches) add to the same numbers.
_counters: Counter[str] = Counter()
_counters_lock = threading.Lock()


def _count(name: str, amount: int = 1) -> None:
    with _counters_lock:
        _counters[name] += amount


def counters() -> dict[str, int]:
    """Hit/miss/error counters, e.g. ``{"latest.hit": 12, "latest.miss": 1, "errors": 0}``."""
    with _counters_lock:
        return dict(_counters)


def reset_counters() -> None:
    with _counters_lock:
        _counters.clear()


@dataclasses.dataclass(frozen=True)
class _Cached:
    """Wraps a cached value so a cached ``None`` (unknown source) is told apart from a miss."""

    value: Any


@dataclasses.dataclass(frozen=True)
class _Found:
    """What ``latest_of`` answers, and how many of the sources asked came from the store."""

    snapshots: dict[str, Snapshot]
    misses: int


def cache_alias_from_settings() -> str:
    return "metrics" if "metrics" in settings.CACHES else "default"


def cache_is_shared(alias: str) -> bool:
    return settings.CACHES[alias]["BACKEND"] not in PROCESS_LOCAL_BACKENDS


class CachedMetricStore(MetricStore):
    def __init__(
        self,
        backend: MetricStore,
        *,
        cache_alias: str | None = None,
        enabled: bool | None = None,
        ttl: int | None = None,
    ) -> None:
        self.backend_store = backend
        self.backend = backend.backend
        self.cache_alias = cache_alias or cache_alias_from_settings()
        mode = settings.METRICS_CACHE
        self.enabled = (
            enabled if enabled is not None else (mode == "on" or (mode == "auto" and cache_is_shared(self.cache_alias)))
        )
        self._ttl = ttl
        self._down_until = 0.0
        self._down_logged = False
        self._state_lock = threading.Lock()
        # Bumps that failed while the cache was down, redone as soon as it answers again.
        self._pending_bumps: set[str] = set()

    def __repr__(self) -> str:
        return f"CachedMetricStore({self.backend_store!r}, cache={self.cache_alias!r}, enabled={self.enabled})"

    @property
    def cache(self) -> BaseCache:
        return caches[self.cache_alias]

    @property
    def ttl(self) -> int:
        return self._ttl or int(settings.METRICS_CACHE_TTL)

    # --- writes: through to the store, then generations ----------------------------------

    def record(
        self, source: SourceSpec, payload: JsonObject, fetched_at: datetime, poll_meta: JsonObject | None = None
    ) -> RecordResult:
        result = self.backend_store.record(source, payload, fetched_at, poll_meta)
        if self.enabled:
            if result.changed:
                self._bump(source.slug)
                self._warm(source.slug)
            else:
                self._touch(source.slug, fetched_at, poll_meta, result.hash)
        return result

    def prune(self, source: str | None, before: datetime) -> int:
        deleted = self.backend_store.prune(source, before)
        if self.enabled and deleted:
            self._bump(PRUNE)
        return deleted

    def delete_source(self, source: str) -> None:
        self.backend_store.delete_source(source)
        if self.enabled:
            self._bump(source, PRUNE)

    def ensure_schema(self) -> None:
        self.backend_store.ensure_schema()

    def defer_seen_writes(self) -> None:
        self.backend_store.defer_seen_writes()

    def flush(self) -> int:
        return self.backend_store.flush()

    def stats(self) -> StoreStats:
        return self.backend_store.stats()

    # --- availability: straight through (counts change on every poll; nothing here to version) --

    def record_poll_outcome(
        self, source: str, at: datetime, up: bool, latency_ms: float | None, error_kind: str = ""
    ) -> None:
        self.backend_store.record_poll_outcome(source, at, up, latency_ms, error_kind)

    def record_poll_outcomes(self, outcomes: Sequence[tuple[str, PollSample]]) -> None:
        self.backend_store.record_poll_outcomes(outcomes)

    def availability(
        self, source: str, tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> list[AvailabilityBucket]:
        return self.backend_store.availability(source, tier, start, end, latency=latency)

    def availability_of_sources(
        self, sources: Sequence[str], tier: str, start: datetime, end: datetime, *, latency: bool = True
    ) -> dict[str, list[AvailabilityBucket]]:
        return self.backend_store.availability_of_sources(sources, tier, start, end, latency=latency)

    def availability_totals(self, source: str, spans: Sequence[AvailabilitySpan]) -> list[AvailabilityBucket]:
        return self.backend_store.availability_totals(source, spans)

    def series_many(
        self, keys: Sequence[SeriesKey], start: datetime, end: datetime, bucket: timedelta, tier: str
    ) -> dict[SeriesKey, list[SeriesBucket]]:
        # Not cached: a board asks for "up to now", a range no two refreshes share.
        return self.backend_store.series_many(keys, start, end, bucket, tier)

    def availability_totals_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[AvailabilityBucket]:
        return self.backend_store.availability_totals_of(sources, spans)

    def availability_counts_of(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> list[tuple[int, int]]:
        return self.backend_store.availability_counts_of(sources, spans)

    def availability_counts_by_source(
        self, sources: Sequence[str], spans: Sequence[AvailabilitySpan]
    ) -> dict[str, list[tuple[int, int]]]:
        return self.backend_store.availability_counts_by_source(sources, spans)

    def prune_availability(self, source: str | None, tier: str, before: datetime, *, dry_run: bool = False) -> int:
        return self.backend_store.prune_availability(source, tier, before, dry_run=dry_run)

    def replace_backfilled_availability(self, source: str, since: datetime, samples: Iterable[PollSample]) -> int:
        return self.backend_store.replace_backfilled_availability(source, since, samples)

    def oldest_live_availability(self, source: str) -> dict[str, datetime | None]:
        return self.backend_store.oldest_live_availability(source)

    # --- reads -------------------------------------------------------------------------------

    def latest(self, source: str) -> Snapshot | None:
        return self._read(
            "latest", [source], lambda g: _latest_key(source, g), lambda: self.backend_store.latest(source)
        )

    def latest_all(self) -> dict[str, Snapshot]:
        # Not cached, for latest_heads' reason: one entry of every source would have to be patched on every poll
        # (last_seen_at moves without a generation moving) and reloaded whole on every change, so each poll would
        # cost as many documents as there are sources. Readers that want many snapshots use latest_of (cached).
        return self.backend_store.latest_all()

    def latest_sources(self) -> list[str]:
        # Not cached: a walk over every source (export) reads it once, then reads the snapshots through latest_of.
        return self.backend_store.latest_sources()

    def latest_heads(self) -> dict[str, SnapshotHead]:
        # Not cached: last_seen_at moves on every poll without a generation moving, and the read leaves the
        # documents out, so it stays narrow without a cache.
        return self.backend_store.latest_heads()

    def latest_of(self, sources: Iterable[str]) -> dict[str, Snapshot]:
        wanted = source_slugs(sources)
        if not self.enabled or not wanted:
            return self.backend_store.latest_of(wanted)
        with tracing.span("cache.latest_of") as span:
            found = self._latest_of(wanted)
            if span is not None:
                span.set_attribute("cache.result", "hit" if found.misses == 0 else "miss")
            return found.snapshots

    def cached_latest_of(self, sources: Iterable[str]) -> tuple[dict[str, Snapshot], list[str]]:
        wanted = source_slugs(sources)
        looked = self._look_up_latest(wanted) if self.enabled and wanted else None
        if looked is None:
            return {}, wanted
        snapshots, missing, _keys = looked
        return snapshots, missing

    def _look_up_latest(self, wanted: list[str]) -> tuple[dict[str, Snapshot], list[str], dict[str, str]] | None:
        """The cached snapshots of ``wanted``, the sources not cached, each source's key; None: the cache is down."""
        parts = self._generation_parts(wanted)
        keys = {} if parts is None else {source: _key(_latest_key(source, parts[source])) for source in wanted}
        cached = None if parts is None else self._try(lambda: self.cache.get_many(list(keys.values())), None)
        if parts is None or cached is None:
            _count("latest_of.bypass", len(wanted))
            return None
        hits = {source: value.value for source, key in keys.items() if isinstance(value := cached.get(key), _Cached)}
        missing = [source for source in wanted if source not in hits]
        _count("latest_of.hit", len(hits))
        _count("latest_of.miss", len(missing))
        return {source: snapshot for source, snapshot in hits.items() if snapshot is not None}, missing, keys

    def _latest_of(self, wanted: list[str]) -> _Found:
        looked = self._look_up_latest(wanted)
        if looked is None:  # the cache is down: straight to the store
            return _Found(self.backend_store.latest_of(wanted), len(wanted))
        snapshots, missing, keys = looked
        if missing:
            # Generations were read before the database, so what is loaded is at least as new as its key.
            # No loader lock here (a set of keys has none to share): the misses are read in one store
            # call, and a changed write warms its source's key, so they are first reads and expiries.
            loaded = self.backend_store.latest_of(missing)
            values = {keys[source]: _Cached(loaded.get(source)) for source in missing}
            self._try(lambda: self.cache.set_many(values, self.ttl), None)
            snapshots.update(loaded)
        return _Found(snapshots, len(missing))

    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        def load() -> HistoryPage:
            return self.backend_store.history(source, start, end, limit, cursor)

        if cursor is not None:
            # Older pages are read rarely and are cheap by cursor: only first pages are cached.
            return load()
        window = f"{_iso(start)}|{_iso(end)}|{limit}"
        return self._read("history", [source, PRUNE], lambda g: f"history:{_safe(source)}:{g}:{_digest(window)}", load)

    def history_in_order(self, source: str, after: int | None = None, limit: int = 500) -> list[HistoryEntry]:
        # Not cached: a whole-history walk (export) reads each page once.
        return self.backend_store.history_in_order(source, after, limit)

    def series(self, source: str, metric: str, start: datetime, end: datetime, bucket: timedelta) -> list[SeriesBucket]:
        def load() -> list[SeriesBucket]:
            return self.backend_store.series(source, metric, start, end, bucket)

        shape = f"{metric}|{_iso(start)}|{_iso(end)}|{bucket.total_seconds()}"
        return self._read("series", [source, PRUNE], lambda g: f"series:{_safe(source)}:{g}:{_digest(shape)}", load)

    # --- machinery ---------------------------------------------------------------------------

    def _read(self, kind: str, scopes: list[str], key_for: Callable[[str], str], load: Callable[[], T]) -> T:
        if not self.enabled:
            return load()
        # A span per cached read (observability.tracing; a no-op unless tracing is on), with its result.
        with tracing.span(f"cache.{kind}") as span:
            return self._read_through(kind, scopes, key_for, load, span)

    def _read_through(
        self, kind: str, scopes: list[str], key_for: Callable[[str], str], load: Callable[[], T], span: Any
    ) -> T:
        def result(name: str) -> None:
            _count(f"{kind}.{name}")
            if span is not None:
                span.set_attribute("cache.result", name)

        generations = self._generations(scopes)
        if generations is None:
            result("bypass")
            return load()
        key = _key(key_for(generations))
        cached = self._get(key)
        if isinstance(cached, _Cached):
            result("hit")
            return cached.value
        result("miss")
        acquired = self._try(lambda: self.cache.add(f"{key}:lock", 1, LOCK_TIMEOUT), None)
        if acquired is None:  # the cache just failed: straight to the store
            return load()
        if not acquired:
            # Someone else is loading this key: wait for their value rather than hit the store too.
            waited = self._wait_for(key)
            if waited is not _MISSING:
                result("hit_after_wait")
                return waited
            return load()
        try:
            value = load()
            self._try(lambda: self.cache.set(key, _Cached(value), self.ttl), None)
            return value
        finally:
            self._try(lambda: self.cache.delete(f"{key}:lock"), None)

    def _wait_for(self, key: str) -> Any:
        deadline = time.monotonic() + float(settings.METRICS_CACHE_LOCK_WAIT)
        while time.monotonic() < deadline and not self._is_down():
            time.sleep(0.01)
            cached = self._get(key)
            if isinstance(cached, _Cached):
                return cached.value
        return _MISSING

    def _get(self, key: str) -> Any:
        return self._try(lambda: self.cache.get(key), None)

    def _generations(self, scopes: list[str]) -> str | None:
        """The current generation of each scope, as one key part; None when the cache is down."""
        parts = self._generation_parts(scopes)
        return None if parts is None else ".".join(parts[scope] for scope in scopes)

    def _generation_parts(self, scopes: list[str]) -> dict[str, str] | None:
        """scope -> "g<counter>", read in one round trip (two when a counter must be created)."""
        keys = {scope: _gen_key(scope) for scope in scopes}
        found = self._try(lambda: self.cache.get_many(list(keys.values())), None)
        if found is None:
            return None
        missing = [k for k in keys.values() if k not in found]
        for gen_key in missing:
            # First use or lost (restart/eviction): start from the clock so no old key can match.
            self._try(lambda k=gen_key: self.cache.add(k, time.time_ns(), None), None)  # type: ignore[misc]
        if missing:
            found = self._try(lambda: self.cache.get_many(list(keys.values())), None)
            if found is None or any(k not in found for k in keys.values()):
                return None
        return {scope: f"g{found[key]}" for scope, key in keys.items()}

    def _bump(self, *scopes: str) -> None:
        with self._state_lock:
            todo = set(scopes) | self._pending_bumps
            self._pending_bumps.clear()
        failed = {scope for scope in todo if not self._incr(_gen_key(scope))}
        if failed:
            with self._state_lock:
                self._pending_bumps |= failed

    def _incr(self, gen_key: str) -> bool:
        def run() -> bool:
            try:
                self.cache.incr(gen_key)
            except ValueError:  # no counter yet (or lost): a fresh clock-based one is already "newer"
                self.cache.add(gen_key, time.time_ns(), None)
            return True

        return bool(self._try(run, False))

    def _warm(self, source: str) -> None:
        """After a changed write: fill this source's latest key for the new generation (one row read)."""
        # Generations first, then the database: the loaded value is at least as new as the generation.
        parts = self._generation_parts([source])
        if parts is None:
            return
        try:
            snapshot = self.backend_store.latest(source)
        except Exception:  # the write succeeded; a failed warm-up only costs the next reader a miss
            logger.warning("could not warm the latest cache after a write to %s", source, exc_info=True)
            return
        key = _key(_latest_key(source, parts[source]))
        self._try(lambda: self.cache.set(key, _Cached(snapshot), self.ttl), None)

    def _touch(self, source: str, fetched_at: datetime, poll_meta: JsonObject | None, digest: str) -> None:
        """After an unchanged write: move last_seen_at/poll_meta in this source's cached snapshot, if cached.

        Content is unchanged, so no generation moves and no database read is needed. Two writers
        patching the same source at once can lose one last_seen_at until that source's next poll.
        """
        if self._pending_bumps:
            self._bump()
        parts = self._generation_parts([source])
        if parts is None:
            return
        fetched_at = fetched_at.astimezone(UTC)
        # Patch in the time the store itself keeps (MongoDB: milliseconds), so cached == stored.
        resolution = int(getattr(self.backend_store, "time_resolution_us", 1))
        fetched_at = fetched_at.replace(microsecond=fetched_at.microsecond // resolution * resolution)

        def patched(snapshot: Snapshot | None) -> Snapshot | None:
            # A stale record (older fetch, other content) also comes back unchanged: leave it out.
            if snapshot is None or snapshot.hash != digest or fetched_at <= snapshot.last_seen_at:
                return None
            return dataclasses.replace(snapshot, last_seen_at=fetched_at, poll_meta=dict(poll_meta or {}))

        key = _key(_latest_key(source, parts[source]))
        cached = self._get(key)
        if isinstance(cached, _Cached):
            fresh = patched(cached.value)
            if fresh is not None:
                self._try(lambda: self.cache.set(key, _Cached(fresh), self.ttl), None)

    def _is_down(self) -> bool:
        return bool(self._down_until) and time.monotonic() < self._down_until

    def _try(self, operation: Callable[[], T], fallback: T) -> T:
        """Run a cache operation; on failure return ``fallback``, warn once per outage, back off."""
        if self._is_down():
            return fallback
        try:
            result = operation()
        except Exception as exc:
            _count("errors")
            with self._state_lock:
                self._down_until = time.monotonic() + float(settings.METRICS_CACHE_RETRY_SECONDS)
                first = not self._down_logged
                self._down_logged = True
            if first:
                logger.warning(
                    "metric cache unavailable (%s); reading from the store until it is back", type(exc).__name__
                )
            return fallback
        if self._down_logged:
            with self._state_lock:
                self._down_logged = False
                self._down_until = 0.0
            logger.warning("metric cache is back")
        return result


def _key(suffix: str) -> str:
    return f"{KEY_PREFIX}:{suffix}"


def _latest_key(source: str, generation: str) -> str:
    """The key suffix of a source's latest snapshot: shared by ``latest``, ``latest_of`` and the writer."""
    return f"latest:{_safe(source)}:{generation}"


def _gen_key(scope: str) -> str:
    return _key(f"gen:{_safe(scope)}")


def _safe(part: str) -> str:
    # Slugs are safe already; anything else (spaces, a glob character such as "*", very long names) is hashed to
    # keep keys valid and each matching itself only.
    if part.replace("-", "").replace("_", "").isalnum() and len(part) <= 100:
        return part
    return "h" + _digest(part)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:20]


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()
