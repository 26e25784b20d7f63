"""Board assembly benchmark: a board of 12 time-series panels x 6 sources over 30 days.

Measured per backend (SQLite, PostgreSQL when reachable, nx-27017 when installed), against a floor taken
in the same run on the same data: the same 72 series (one per panel and source, same range and bucket)
read with ``MetricStore.series()`` one call at a time, as code without ``series_many`` would.

Targets (docs/boards.md, "Performance"): server assembly (boards.data.assemble, JSON included)
<= 2x the floor; <= 1 store call per panel and <= 1 database round trip per panel (SQL statements, or
MongoDB commands counted by a pymongo command listener, getMore included); the JSON the browser gets
<= 300 KB.

Data: 30 days of raw history every 30 minutes for 6 sources with 12 metrics each, bulk-loaded, then
rolled up as the poller's retention step does (metrics.lifecycle.retention.roll_up): 1-hour and 1-day
buckets for the whole month, 1-minute buckets for the last day (older 1-minute buckets are what a
retention policy prunes first). Environment: BENCH_DATABASE_URL (PostgreSQL server, default
TEST_DATABASE_URL; a temporary database is created and dropped), BENCH_REPEAT (default 5).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The repository ahead of bench/ (the script's own directory, where _setup is found): bench/alerts.py
# must not shadow the alerts app.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_insights.settings")

from _setup import nx_server, sql_backend, sqlite_config, temporary_postgres  # noqa: E402 - shared bench set-up
from pymongo import monitoring  # noqa: E402

SOURCES = ["us-east", "eu-west", "eu-central", "us-west", "sa-east", "ap-southeast"]
METRICS = [f"m{i:02d}" for i in range(12)]
DAYS = 30
STEP = timedelta(minutes=30)
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
MAX_RATIO, MAX_CALLS_PER_PANEL, MAX_DB_PER_PANEL, MAX_JSON_BYTES = 2.0, 1.0, 1.0, 300 * 1024


def document() -> dict[str, Any]:
    from boards import spec

    panels = [
        {
            "id": f"p{i}",
            "type": "timeseries",
            "x": (i % 2) * 6,
            "y": (i // 2) * 4,
            "w": 6,
            "h": 4,
            "sources": ["*"],
            "metrics": [metric],
        }
        for i, metric in enumerate(METRICS)
    ]
    return spec.validate({"format": spec.FORMAT, "title": "Bench", "time_range": "30d", "panels": panels})


def values(i: int, source: int) -> dict[str, float]:
    return {metric: float((i * (k + 1) + source * 7) % 97) + k / 10 for k, metric in enumerate(METRICS)}


def load(store: Any) -> None:
    """Raw history through the store's own bulk paths, then rollups as retention writes them."""
    from metrics.lifecycle.retention import rollup_store
    from metrics.rollups import aggregate_samples, cascade
    from metrics.stores.base import HistoryEntry

    target = rollup_store(store)
    count = int(timedelta(days=DAYS) / STEP)
    for s, source in enumerate(SOURCES):
        start = NOW - DAYS * timedelta(days=1)
        entries = [
            HistoryEntry(
                id="",
                source=source,
                hash=f"{source}-{i}",
                payload={"i": i},
                metrics=values(i, s),
                diff=[],
                fetched_at=start + i * STEP,
                sequence=i + 1,
            )
            for i in range(count)
        ]
        target.restore_history(entries)
        minutes = aggregate_samples(source, ((e.fetched_at, e.metrics) for e in entries))
        hours = cascade(minutes, "1h")
        target.write_rollups(hours)
        target.write_rollups(cascade(hours, "1d"))
        target.write_rollups([b for b in minutes if b.start >= NOW - timedelta(days=1)])


def median_ms(action: Callable[[], Any]) -> float:
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(name: str, store: Any, count_statements: Callable[[], Any]) -> dict[str, Any]:
    from django.conf import settings
    from django.utils import timezone

    from boards.data import TimeRange, assemble
    from metrics.rollups import bucket_for_range, tier_for_range
    from pollers.models import Source

    doc = document()
    # Unsaved, with a team id: no relational reads (the store is the only database measured).
    sources = [Source(slug=slug, region=slug, team_id=1) for slug in SOURCES]
    window = TimeRange.parse("30d", None, None, NOW)
    tier = tier_for_range(window.start, window.end)
    bucket = bucket_for_range(window.start, window.end, tier, settings.BOARDS_MAX_POINTS)

    def floor() -> None:
        for metric in METRICS:
            for slug in SOURCES:
                store.series(slug, metric, window.start, window.end, bucket)

    def board() -> str:
        data = assemble(doc, sources, {}, window, store, timezone.now())
        return json.dumps(data, separators=(",", ":"), allow_nan=False)

    board()  # warm both paths once (connections, statement caches)
    floor()
    floor_ms = median_ms(floor)
    board_ms = median_ms(board)
    with count_statements() as counted:
        body = board()
    data = json.loads(body)
    return {
        "backend": name,
        "tier": tier,
        "bucket": int(bucket.total_seconds()),
        "floor_ms": floor_ms,
        "board_ms": board_ms,
        "ratio": board_ms / floor_ms,
        "calls_per_panel": data["store_calls"] / len(doc["panels"]),
        "db_per_panel": counted["n"] / len(doc["panels"]),
        "json_bytes": len(body.encode()),
        "points": sum(len(p["t"]) for p in data["panels"].values()),
    }


@contextmanager
def sql_statements(alias: str) -> Iterator[dict[str, int]]:
    from django.db import connections

    counted = {"n": 0}

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counted["n"] += 1
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(count):
        yield counted


class CommandCounter(monitoring.CommandListener):
    """A pymongo command listener: how many commands the board's reads sent."""

    def __init__(self) -> None:
        self.counted = {"n": 0}
        self.on = False

    def started(self, event: Any) -> None:
        if self.on and event.command_name in ("find", "aggregate", "getMore"):
            self.counted["n"] += 1

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    @contextmanager
    def counting(self) -> Iterator[dict[str, int]]:
        self.counted["n"], self.on = 0, True
        try:
            yield self.counted
        finally:
            self.on = False


HEADER = (
    f"{'backend':<10} {'tier':>4} {'bucket':>7} {'floor ms':>9} {'board ms':>9} {'ratio':>6} "
    f"{'calls/panel':>11} {'db/panel':>8} {'JSON KB':>8} {'points':>7}"
)


def report(r: dict[str, Any]) -> list[str]:
    """Print one backend's row as soon as it is measured; the targets it misses."""
    print(
        f"{r['backend']:<10} {r['tier']:>4} {r['bucket']:>7} {r['floor_ms']:>9.1f} {r['board_ms']:>9.1f} "
        f"{r['ratio']:>6.2f} {r['calls_per_panel']:>11.2f} {r['db_per_panel']:>8.2f} "
        f"{r['json_bytes'] / 1024:>8.1f} {r['points']:>7}",
        flush=True,
    )
    failed = []
    if r["ratio"] > MAX_RATIO:
        failed.append(f"{r['backend']}: assembly {r['ratio']:.2f}x the floor (target <= {MAX_RATIO})")
    if r["calls_per_panel"] > MAX_CALLS_PER_PANEL:
        failed.append(f"{r['backend']}: {r['calls_per_panel']:.2f} store calls per panel")
    if r["db_per_panel"] > MAX_DB_PER_PANEL:
        failed.append(f"{r['backend']}: {r['db_per_panel']:.2f} database round trips per panel")
    if r["json_bytes"] > MAX_JSON_BYTES:
        failed.append(f"{r['backend']}: JSON {r['json_bytes']} bytes")
    return failed


def main() -> int:
    import django

    django.setup()
    print(f"board: 12 time-series panels x {len(SOURCES)} sources, {DAYS} days, {REPEAT} runs (medians)")
    print(HEADER, flush=True)
    failed: list[str] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        sql_backend("bench_sqlite", sqlite_config(f"{tmp}/bench.sqlite3")) as store,
    ):
        load(store)
        failed += report(measure("sqlite", store, lambda: sql_statements("bench_sqlite")))
    with temporary_postgres("boards") as pg:
        if pg is not None:
            with sql_backend("bench_postgres", pg.django) as store:
                load(store)
                failed += report(measure("postgres", store, lambda: sql_statements("bench_postgres")))
    with nx_server() as url:
        if url is not None:
            from pymongo import MongoClient

            from metrics.stores.mongo import MongoMetricStore

            counter = CommandCounter()
            client: MongoClient[dict[str, Any]] = MongoClient(url, tz_aware=True, event_listeners=[counter])
            store = MongoMetricStore(client, "bench_boards", retention_days=365)
            store.ensure_indexes()
            load(store)
            failed += report(measure("nx-27017", store, counter.counting))
            client.drop_database("bench_boards")
            client.close()
    print("floor: the same 72 series read with series(), one call each; db/panel: SQL statements or MongoDB commands")
    for problem in failed:
        print(f"FAIL {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
