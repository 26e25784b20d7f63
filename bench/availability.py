"""Availability benchmark: what counting a poll costs the poller, and what a 90-day summary read costs,
per available backend (SQLite, PostgreSQL, nx-27017), each against a floor measured in the same run.

- record_poll_outcome (three tier upserts in one round trip) against a bare single-row upsert
  (``INSERT ... ON CONFLICT DO UPDATE SET n = n + 1`` / ``update_one($inc, upsert)``);
- uptime_summary (24h, 7d, 30d, 90d in one read) and daily_availability (90 day bars) against one
  trivial round trip (``SELECT 1`` / ``ping``).

The store is loaded with BENCH_AVAILABILITY_DAYS days (default 90) of one poll every
BENCH_AVAILABILITY_INTERVAL seconds (default 30, about 1 % down) through the backfill path, and
minute buckets older than 30 days are pruned as the default retention would. For a quick check:
BENCH_AVAILABILITY_DAYS=3 BENCH_AVAILABILITY_INTERVAL=300 python bench/availability.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The shared bench set-up (databases, nx-27017; it puts the repository on sys.path) and the store
# benchmark's median helper (it selects the settings module).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import nx_server, sql_backend, sqlite_config, temporary_postgres
from store import p50_ms

DAYS = int(os.environ.get("BENCH_AVAILABILITY_DAYS", "90"))
INTERVAL = int(os.environ.get("BENCH_AVAILABILITY_INTERVAL", "30"))
RECORDS = 300
SOURCE = "bench-availability"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
KINDS = ("timeout", "http_503", "connect")


def samples() -> list[Any]:
    from metrics.stores.base import PollSample

    rng = random.Random(22)
    start = NOW - timedelta(days=DAYS)
    found = []
    at = start
    while at < NOW:
        if rng.random() < 0.01:
            found.append(PollSample(at, False, None, rng.choice(KINDS)))
        else:
            found.append(PollSample(at, True, rng.lognormvariate(4.5, 0.6)))
        at += timedelta(seconds=INTERVAL)
    return found


def load(store: Any) -> float:
    from metrics.availability import bucket_start

    started = time.perf_counter()
    loaded = samples()
    since = bucket_start(loaded[0].at, "1d")
    store.replace_backfilled_availability(SOURCE, since, loaded)
    store.prune_availability(SOURCE, "1m", NOW - timedelta(days=30))
    return time.perf_counter() - started


def measure(name: str, store: Any, upsert_floor: Callable[[int], Any], trip_floor: Callable[[], Any]) -> list[Any]:
    seconds = load(store)
    print(f"{name}: loaded {DAYS} days of a poll every {INTERVAL}s in {seconds:.1f}s", flush=True)
    counter = iter(range(10**9))

    def record() -> None:
        i = next(counter)
        at = NOW + timedelta(seconds=i)
        if i % 50 == 0:
            store.record_poll_outcome(SOURCE, at, False, None, "timeout")
        else:
            store.record_poll_outcome(SOURCE, at, True, 80.0 + i % 40)

    floor_keys = iter(range(10**9))
    write, write_floor = paired_p50(record, lambda: upsert_floor(next(floor_keys) % 50), RECORDS)
    trip = p50_ms(trip_floor, 100)
    summary = p50_ms(lambda: store.uptime_summary(SOURCE, NOW), 30, budget_seconds=5)
    bars = p50_ms(lambda: store.daily_availability(SOURCE, NOW, 90), 30, budget_seconds=5)
    return [
        (name, "record_poll_outcome", write, "single-row upsert", write_floor),
        (name, "uptime_summary 24h..90d", summary, "one round trip", trip),
        (name, "daily_availability 90", bars, "one round trip", trip),
    ]


def paired_p50(action: Callable[[], Any], floor: Callable[[], Any], count: int) -> tuple[float, float]:
    """Median ms of ``action`` and of ``floor``, called alternately so load on a shared machine hits both alike."""
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(count):
        for calls, call in zip(timings, (action, floor), strict=True):
            started = time.perf_counter()
            call()
            calls.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[0]), statistics.median(timings[1])


def sql_floors(store: Any) -> tuple[Callable[[int], Any], Callable[[], Any]]:
    from django.db import connections

    connection = connections[store.using]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_upsert_floor (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")

    def upsert(key: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_upsert_floor (k, n) VALUES (%s, 1) "
                "ON CONFLICT (k) DO UPDATE SET n = bench_upsert_floor.n + 1",
                [key],
            )

    def trip() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    return upsert, trip


def print_table(rows: list[Any]) -> None:
    print()
    header = f"{'backend':<10} {'measure':<25} {'p50 ms':>9}   {'floor':<18} {'floor ms':>9} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for backend, label, value, floor_label, floor in rows:
        print(f"{backend:<10} {label:<25} {value:9.3f}   {floor_label:<18} {floor:9.3f} {value / floor:6.1f}x")
    print()
    print("ratio: the measure in floors. record_poll_outcome is what the poller adds to every poll: three")
    print(f"bucket upserts (1m, 1h, 1d) in one statement or bulk write. Reads cover {DAYS} days of polls every")
    print(f"{INTERVAL}s: 24h from 1,440 minute buckets, 7d/30d from up to 720 hour buckets, 90d from 90 day buckets.")
    print("nx-27017 is a test server on SQLite: its figures say nothing about a real mongod.")


def main() -> int:
    import django

    django.setup()
    rows: list[Any] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        sql_backend("bench_sqlite", sqlite_config(f"{tmp}/bench.sqlite3")) as store,
    ):
        rows += measure("sqlite", store, *sql_floors(store))

    with temporary_postgres("availability") as pg:
        if pg is not None:
            with sql_backend("bench_postgres", pg.django) as store:
                rows += measure("postgres", store, *sql_floors(store))

    with nx_server() as url:
        if url is not None:
            from pymongo import MongoClient

            from metrics.stores.mongo import MongoMetricStore

            client: MongoClient[dict[str, Any]] = MongoClient(url, tz_aware=True)
            mongo = MongoMetricStore(client, "bench_availability")
            mongo.ensure_indexes()
            scratch = client["bench_availability"]["upsert_floor"]

            def mongo_upsert(key: int) -> None:
                scratch.update_one({"_id": key}, {"$inc": {"n": 1}}, upsert=True)

            rows += measure("nx-27017", mongo, mongo_upsert, lambda: client.admin.command("ping"))
            client.close()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
