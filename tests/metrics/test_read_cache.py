"""The read cache on real Redis in front of the SQL store on real PostgreSQL."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import BaseCache
from django.db import connections

from metrics import read_cache
from metrics.read_cache import CachedMetricStore
from metrics.stores.base import HistoryPage, MetricStore, SeriesBucket, Snapshot, SourceSpec
from metrics.stores.sql import SqlMetricStore
from tests import services
from tests.conftest import sql_alias
from tests.paths import ROOT
from tests.races import at_once

ALIAS = sql_alias("postgres")
pytestmark = pytest.mark.django_db(databases=[ALIAS], transaction=True)
SPEC = SourceSpec("us-east", metric_paths={"cpu": "cpu"})
T0 = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


class CountingStore(SqlMetricStore):
    """The real SQL store, counting the reads that reach the database (and optionally slowed down)."""

    def __init__(self, using: str, delay: float = 0.0) -> None:
        super().__init__(using=using)
        self.calls: Counter[str] = Counter()
        self.asked_latest: list[str] = []
        self.asked_latest_of: list[list[str]] = []
        self.delay = delay
        self._lock = threading.Lock()

    def _counted(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
        if self.delay:
            time.sleep(self.delay)

    def latest(self, source: str) -> Snapshot | None:
        self._counted("latest")
        self.asked_latest.append(source)
        return super().latest(source)

    def latest_all(self) -> dict[str, Snapshot]:
        self._counted("latest_all")
        return super().latest_all()

    def latest_of(self, sources: Iterable[str]) -> dict[str, Snapshot]:
        self._counted("latest_of")
        wanted = list(sources)
        self.asked_latest_of.append(wanted)
        return super().latest_of(wanted)

    def history(self, *args: Any, **kwargs: Any) -> HistoryPage:
        self._counted("history")
        return super().history(*args, **kwargs)

    def series(self, *args: Any, **kwargs: Any) -> list[SeriesBucket]:
        self._counted("series")
        return super().series(*args, **kwargs)


class KeyLog:
    """A cache that notes every key asked of it (reads and writes alike), then asks the real one."""

    def __init__(self, cache: BaseCache, keys: list[str]) -> None:
        self.real = cache
        self.keys = keys

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def logged(*args: Any, **kwargs: Any) -> Any:
            first = args[0] if args else None
            # get/set/add/incr/delete take a key; get_many a list of keys, set_many a dict by key.
            self.keys.extend([first] if isinstance(first, str) else list(first or ()))
            return method(*args, **kwargs)

        return logged


class KeyLoggingStore(CachedMetricStore):
    """The read cache, noting every cache key it reads or writes."""

    def __init__(self, backend: MetricStore) -> None:
        super().__init__(backend, cache_alias="metrics")
        self.keys: list[str] = []

    @property
    def cache(self) -> Any:
        return KeyLog(super().cache, self.keys)


def metrics_cache(location: str, prefix: str) -> dict[str, Any]:
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": prefix,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "IGNORE_EXCEPTIONS": False,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
        },
    }


@pytest.fixture
def prefix(redis_settings: Any, redis_url: str) -> str:
    name = f"t{uuid.uuid4().hex[:8]}"
    redis_settings.CACHES = {**redis_settings.CACHES, "metrics": metrics_cache(redis_url, name)}
    redis_settings.METRICS_CACHE = "auto"
    return name


@pytest.fixture
def backend(prefix: str) -> CountingStore:
    return CountingStore(ALIAS)


@pytest.fixture
def store(backend: CountingStore) -> CachedMetricStore:
    read_cache.reset_counters()
    cached = CachedMetricStore(backend, cache_alias="metrics")
    assert cached.enabled
    return cached


def doc(cpu: float) -> dict[str, Any]:
    return {"cpu": cpu, "status": "ok"}


def test_it_serves_repeated_reads_from_the_cache(store: CachedMetricStore, backend: CountingStore) -> None:
    store.record(SPEC, doc(1), T0)
    backend.calls.clear()
    read_cache.reset_counters()
    for _ in range(3):
        assert store.latest(SPEC.slug).payload == doc(1)  # type: ignore[union-attr]
        assert [e.sequence for e in store.history(SPEC.slug).entries] == [1]
        assert len(store.series(SPEC.slug, "cpu", T0, T0 + timedelta(hours=1), timedelta(minutes=5))) == 1
        assert store.latest("unknown") is None
    # us-east's latest was warmed by the write; only the unknown source's first read reached the database.
    assert backend.calls == Counter({"latest": 1, "history": 1, "series": 1})
    counts = read_cache.counters()
    assert (counts["latest.hit"], counts["latest.miss"]) == (5, 1)
    assert (counts["history.hit"], counts["history.miss"]) == (2, 1)
    assert (counts["series.hit"], counts["series.miss"]) == (2, 1)


def test_it_never_serves_a_snapshot_older_than_the_one_just_written(store: CachedMetricStore) -> None:
    window = (T0, T0 + timedelta(hours=1), timedelta(hours=1))
    for step in range(1, 6):
        result = store.record(SPEC, doc(step), T0 + timedelta(minutes=step))
        assert result.changed
        assert store.latest(SPEC.slug).sequence == step  # type: ignore[union-attr]
        assert store.latest_of([SPEC.slug])[SPEC.slug].sequence == step
        assert store.latest_all()[SPEC.slug].sequence == step
        assert store.history(SPEC.slug, limit=2).entries[0].sequence == step
        [bucket] = store.series(SPEC.slug, "cpu", *window)
        assert (bucket.count, bucket.max) == (step, float(step))


def test_it_warms_each_written_sources_latest_as_it_writes(store: CachedMetricStore, backend: CountingStore) -> None:
    store.record(SPEC, doc(1), T0)
    store.record(SourceSpec("eu-west"), doc(2), T0)
    # Each changed write read its own source's row back, once, to warm its key.
    assert backend.asked_latest == [SPEC.slug, "eu-west"]
    backend.calls.clear()
    read_cache.reset_counters()
    snapshots = store.latest_of([SPEC.slug, "eu-west"])
    assert {slug: s.payload for slug, s in snapshots.items()} == {SPEC.slug: doc(1), "eu-west": doc(2)}
    assert store.latest("eu-west").payload == doc(2)  # type: ignore[union-attr]
    assert backend.calls == Counter()
    counts = read_cache.counters()
    assert (counts["latest_of.hit"], counts["latest.hit"]) == (2, 1)


def test_it_polls_a_source_reading_and_writing_nothing_of_the_other_sources(
    backend: CountingStore, redis_client: Any, prefix: str
) -> None:
    """Each changed poll read every source's latest document (latest_all) to cache them as one entry, and each
    unchanged poll read, patched and rewrote that entry: a poll cost as many documents as there were sources."""
    store = KeyLoggingStore(backend)
    assert store.enabled
    for n in range(5):
        store.record(SourceSpec(f"other-{n}"), doc(n), T0)
        store.latest(f"other-{n}")
    backend.calls.clear()
    backend.asked_latest.clear()
    store.keys.clear()
    assert store.record(SPEC, doc(1), T0).changed
    assert not store.record(SPEC, doc(1), T0 + timedelta(seconds=30)).changed
    assert backend.calls == Counter({"latest": 1})
    assert backend.asked_latest == [SPEC.slug]
    # us-east's generation and its latest key (whatever the generation), nothing shared with other sources.
    assert {re.sub(r":g\d+$", "", key) for key in store.keys} == {"metrics:gen:us-east", "metrics:latest:us-east"}
    assert redis_client.keys(f"{prefix}:*latest_all*") == []
    snapshot = store.latest(SPEC.slug)  # warmed by the first poll, patched by the second
    assert snapshot is not None
    assert snapshot.last_seen_at == T0 + timedelta(seconds=30)
    assert backend.calls == Counter({"latest": 1})


def test_it_reads_latest_heads_and_latest_all_through_to_the_store_with_each_polls_last_seen_at(
    store: CachedMetricStore, backend: CountingStore
) -> None:
    from metrics.stores.instrumented import InstrumentedStore

    store.record(SPEC, doc(1), T0)
    assert store.latest_all()[SPEC.slug].last_seen_at == T0
    store.record(SPEC, doc(1), T0 + timedelta(seconds=30))  # unchanged: no generation moves
    for reader in (store, InstrumentedStore(store)):
        head = reader.latest_heads()[SPEC.slug]
        assert (head.sequence, head.metrics, head.last_seen_at) == (1, {"cpu": 1.0}, T0 + timedelta(seconds=30))
        assert reader.latest_all()[SPEC.slug].last_seen_at == T0 + timedelta(seconds=30)
    assert backend.calls["latest_all"] == 3  # every call: nothing of it is cached


def test_it_serves_latest_of_from_the_keys_latest_uses_and_loads_only_the_misses(
    store: CachedMetricStore, backend: CountingStore
) -> None:
    store.record(SPEC, doc(1), T0)
    store.record(SourceSpec("eu-west"), doc(2), T0)
    store.backend_store.record(SourceSpec("ap-south"), doc(3), T0)  # through the backend: nothing warmed
    backend.calls.clear()
    read_cache.reset_counters()
    asked = [SPEC.slug, "eu-west", "ap-south", "unknown"]
    found = store.latest_of(asked)
    assert found == backend.latest_of(asked)
    assert sorted(found) == ["ap-south", "eu-west", "us-east"]
    # The writes warmed us-east's and eu-west's keys: only the others were read, in one call, and never latest_all.
    assert backend.asked_latest_of == [["ap-south", "unknown"], asked]
    backend.calls.clear()
    assert store.latest_of(reversed(asked)) == found
    assert store.latest("ap-south") == found["ap-south"]  # the same keys as latest()
    assert store.latest("unknown") is None
    assert backend.calls == Counter()
    counts = read_cache.counters()
    assert (counts["latest_of.hit"], counts["latest_of.miss"]) == (2 + 4, 2)
    assert store.latest_of([]) == {}


def test_it_answers_cached_latest_of_from_the_cache_alone(store: CachedMetricStore, backend: CountingStore) -> None:
    store.record(SPEC, doc(1), T0)  # warms us-east's key
    store.backend_store.record(SourceSpec("ap-south"), doc(3), T0)  # nothing warmed
    store.latest("unknown")  # cached as "no snapshot"
    backend.calls.clear()
    found, missing = store.cached_latest_of([SPEC.slug, "ap-south", "unknown"])
    assert (sorted(found), missing) == ([SPEC.slug], ["ap-south"])  # "unknown" answered: no snapshot
    assert found[SPEC.slug].payload == doc(1)
    assert backend.calls == Counter()  # never the store
    # The store alone (no cache in front) answers nothing, and so does a cache that is off.
    assert backend.cached_latest_of([SPEC.slug]) == ({}, [SPEC.slug])
    off = CachedMetricStore(backend, cache_alias="metrics", enabled=False)
    assert off.cached_latest_of([SPEC.slug, SPEC.slug]) == ({}, [SPEC.slug])


def test_it_shows_every_change_to_latest_of_at_once_to_every_reader(store: CachedMetricStore) -> None:
    reader = CachedMetricStore(SqlMetricStore(using=ALIAS), cache_alias="metrics")  # another process's view
    store.record(SourceSpec("eu-west"), doc(0), T0)
    asked = [SPEC.slug, "eu-west"]
    assert reader.latest_of(asked).keys() == {"eu-west"}  # us-east cached as "no snapshot"
    for step in range(1, 6):
        assert store.record(SPEC, doc(step), T0 + timedelta(minutes=step)).changed
        for view in (store, reader):
            found = view.latest_of(asked)
            assert (found[SPEC.slug].sequence, found[SPEC.slug].payload) == (step, doc(step))
            assert found["eu-west"].payload == doc(0)
    # An unchanged poll moves last_seen_at in the cached snapshot; a deleted source is gone.
    seen = T0 + timedelta(minutes=5, seconds=30)
    store.record(SPEC, doc(5), seen, {"poll": "again"})
    for view in (store, reader):
        snapshot = view.latest_of(asked)[SPEC.slug]
        assert (snapshot.last_seen_at, snapshot.poll_meta) == (seen, {"poll": "again"})
    store.delete_source(SPEC.slug)
    assert reader.latest_of(asked).keys() == {"eu-west"}


def test_it_moves_last_seen_at_in_cached_snapshots_on_unchanged_writes(
    store: CachedMetricStore, backend: CountingStore
) -> None:
    store.record(SPEC, doc(1), T0, {"poll": 1})
    store.latest(SPEC.slug)
    store.record(SPEC, doc(1), T0 + timedelta(seconds=30), {"poll": 2})
    backend.calls.clear()
    cached = [store.latest(SPEC.slug), store.latest_of([SPEC.slug])[SPEC.slug]]
    assert backend.calls == Counter()  # both served from the cache
    for snapshot in cached:
        assert snapshot is not None
        assert (snapshot.last_seen_at, snapshot.poll_meta) == (T0 + timedelta(seconds=30), {"poll": 2})
        assert snapshot == backend.latest(SPEC.slug)
    # A stale record with other content must not patch anything.
    store.record(SPEC, doc(9), T0 - timedelta(minutes=5), {"poll": "stale"})
    assert store.latest(SPEC.slug).poll_meta == {"poll": 2}  # type: ignore[union-attr]


def test_it_invalidates_on_prune_and_delete(store: CachedMetricStore) -> None:
    for step in range(3):
        store.record(SPEC, doc(step), T0 + timedelta(minutes=step))
    series_args = (SPEC.slug, "cpu", T0, T0 + timedelta(hours=1), timedelta(hours=1))
    assert len(store.history(SPEC.slug).entries) == 3
    assert store.series(*series_args)[0].count == 3
    assert store.prune(None, T0 + timedelta(minutes=2)) == 2
    assert len(store.history(SPEC.slug).entries) == 1
    assert store.series(*series_args)[0].count == 1
    store.delete_source(SPEC.slug)
    assert store.latest(SPEC.slug) is None
    assert store.latest_of([SPEC.slug]) == {}
    assert store.latest_all() == {}
    assert store.history(SPEC.slug).entries == []


def test_it_never_serves_old_values_when_a_generation_counter_is_lost(
    store: CachedMetricStore, redis_client: Any, prefix: str
) -> None:
    store.record(SPEC, doc(1), T0)
    store.latest(SPEC.slug)
    # Evict the generation counters only (as maxmemory eviction could), keep the cached values.
    for key in redis_client.keys(f"{prefix}:*metrics:gen:*"):
        redis_client.delete(key)
    store.backend_store.record(SPEC, doc(2), T0 + timedelta(minutes=1))  # a write that bumped nothing
    assert store.latest(SPEC.slug).payload == doc(2)  # type: ignore[union-attr]
    assert store.latest_of([SPEC.slug])[SPEC.slug].payload == doc(2)


def test_it_loads_a_hot_key_once_when_many_readers_miss_together(prefix: str) -> None:
    slow = CountingStore(ALIAS, delay=0.3)
    store = CachedMetricStore(slow, cache_alias="metrics")
    store.backend_store.record(SPEC, doc(1), T0)  # through the backend: nothing warmed
    results = at_once(lambda: store.latest(SPEC.slug), 8)
    assert len(results) == 8
    assert all(r.payload == doc(1) for r in results)
    assert slow.calls["latest"] == 1


def test_it_falls_back_to_the_store_and_logs_once_when_redis_is_down(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {**settings.CACHES, "metrics": metrics_cache(f"redis://127.0.0.1:{services.free_port()}/0", "x")}
    settings.METRICS_CACHE_RETRY_SECONDS = 0.0  # retry every call: each one meets the dead Redis
    read_cache.reset_counters()
    store = CachedMetricStore(SqlMetricStore(using=ALIAS), cache_alias="metrics", enabled=True)
    with caplog.at_level(logging.WARNING, logger="metrics.cache"):
        assert store.record(SPEC, doc(1), T0).changed
        for _ in range(3):
            assert store.latest(SPEC.slug).payload == doc(1)  # type: ignore[union-attr]
            assert SPEC.slug in store.latest_all()
            assert store.latest_of([SPEC.slug, "unknown"]).keys() == {SPEC.slug}
            assert len(store.history(SPEC.slug).entries) == 1
        assert store.record(SPEC, doc(2), T0 + timedelta(minutes=1)).sequence == 2
        assert store.latest(SPEC.slug).payload == doc(2)  # type: ignore[union-attr]
        assert store.latest_of([SPEC.slug])[SPEC.slug].payload == doc(2)
    warnings = [r for r in caplog.records if r.name == "metrics.cache"]
    assert [r.getMessage() for r in warnings] == [
        "metric cache unavailable (ConnectionError); reading from the store until it is back"
    ]
    assert read_cache.counters()["errors"] >= 3


def test_it_passes_through_with_a_process_local_cache(settings: Any) -> None:
    settings.METRICS_CACHE = "auto"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.SHARED_CACHE_ALIAS = settings.WAFFLE_CACHE_NAME = "default"  # CACHES has no other entry
    assert CachedMetricStore(SqlMetricStore(using=ALIAS)).enabled is False
    settings.METRICS_CACHE = "on"
    assert CachedMetricStore(SqlMetricStore(using=ALIAS)).enabled is True


def test_it_is_what_get_store_returns(settings: Any) -> None:
    from metrics.stores import get_store

    get_store.cache_clear()
    try:
        store = get_store()
        assert isinstance(store, CachedMetricStore)
        # Between the cache and the database: the instrumentation (store latency, errors, spans).
        from metrics.stores.instrumented import InstrumentedStore

        assert isinstance(store.backend_store, InstrumentedStore)
        assert isinstance(store.backend_store.inner, SqlMetricStore)
    finally:
        get_store.cache_clear()


WRITER = """
import sys
from datetime import datetime, timedelta
import django
django.setup()
from metrics.stores import get_store
from metrics.stores.base import SourceSpec
store = get_store()
assert store.enabled, store
t0 = datetime.fromisoformat(sys.argv[1])
for line in sys.stdin:
    step = int(line)
    result = store.record(SourceSpec("us-east", metric_paths={"cpu": "cpu"}), {"cpu": step, "status": "ok"},
                          t0 + timedelta(minutes=step))
    print(result.sequence, flush=True)
"""


@pytest.mark.slow
def test_it_shows_a_write_from_another_process_to_the_next_read(
    store: CachedMetricStore, backend: CountingStore, prefix: str, redis_url: str
) -> None:
    store.record(SPEC, doc(0), T0)
    db = connections[ALIAS].settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"MONGODB_URL", "CI"}},
        "DJANGO_SETTINGS_MODULE": "devops_insights.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": prefix,
        "METRICS_CACHE": "on",
    }
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, T0.isoformat()],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None
    assert writer.stdout is not None
    try:
        for step in range(1, 8):
            # Warm this process's view of the current generation, then let the other process write.
            assert store.latest(SPEC.slug).sequence == step  # type: ignore[union-attr]
            writer.stdin.write(f"{step}\n")
            writer.stdin.flush()
            written = int(writer.stdout.readline())
            assert written == step + 1
            backend.calls.clear()
            assert store.latest(SPEC.slug).sequence == written  # type: ignore[union-attr]
            assert store.latest_of([SPEC.slug])[SPEC.slug].sequence == written
            # The other process warmed us-east's key as it wrote: these reads never reached the database.
            assert backend.calls == Counter()
            assert store.history(SPEC.slug).entries[0].sequence == written
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    assert writer.returncode == 0


def test_it_replays_generation_bumps_that_failed_while_redis_was_down(
    settings: Any, store: CachedMetricStore, redis_url: str, prefix: str
) -> None:
    settings.METRICS_CACHE_RETRY_SECONDS = 0.0
    store.record(SPEC, doc(1), T0)
    reader = CachedMetricStore(SqlMetricStore(using=ALIAS), cache_alias="metrics")  # another process's view
    assert reader.latest(SPEC.slug).payload == doc(1)  # type: ignore[union-attr]
    working = settings.CACHES["metrics"]
    closed = f"redis://127.0.0.1:{services.free_port()}/0"
    settings.CACHES = {**settings.CACHES, "metrics": metrics_cache(closed, prefix)}
    store.record(SPEC, doc(2), T0 + timedelta(minutes=1))  # the bump fails: Redis is unreachable
    settings.CACHES = {**settings.CACHES, "metrics": working}
    # Redis is back but missed the bump: the writer replays it with its next write of any source.
    store.record(SourceSpec("eu-west"), doc(5), T0)
    assert reader.latest(SPEC.slug).payload == doc(2)  # type: ignore[union-attr]


def test_it_patches_last_seen_at_at_the_mongodb_resolution(prefix: str, mongodb_url: str) -> None:
    from tests.mongo_store import mongo_store

    with mongo_store(mongodb_url) as mongo:
        store = CachedMetricStore(mongo, cache_alias="metrics")
        store.record(SPEC, doc(1), T0)
        store.record(SPEC, doc(1), T0 + timedelta(seconds=30, microseconds=123456))
        cached = store.latest(SPEC.slug)
        assert cached is not None
        assert cached.last_seen_at == T0 + timedelta(seconds=30, milliseconds=123)
        assert cached == mongo.latest(SPEC.slug)


@pytest.mark.parametrize("source", ["us-*", "*", "eu*west"])
def test_it_keeps_a_glob_character_out_of_every_key(source: str) -> None:
    # "*" was let into keys for a key of every source (latest_all), removed since: a source's key holding it
    # would match other keys wherever the cache is scanned by pattern (a KEYS or SCAN of "latest:us-*").
    for key in (read_cache._latest_key(source, "g1"), read_cache._gen_key(source)):
        assert "*" not in key
    assert read_cache._latest_key(source, "g1") != read_cache._latest_key("us-", "g1")
