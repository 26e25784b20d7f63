"""Load held: many concurrent clients on one daphne process on PostgreSQL and Redis.

One daphne process (``DATABASE_POOL_MAX_SIZE`` connections at most) serves BENCH_LOAD_CLIENTS (200)
concurrent keep-alive clients for BENCH_LOAD_SECONDS (30) per scenario: the overview and a source's
history page (logged in by session) and ``GET /api/v1/metrics`` (50 API tokens, so per-token rate limits
are not what is measured; all clients share one loopback address, so the per-IP limit is raised). The
floor, in the same run on the same process, is ``GET /api/v1/health`` (no database). Printed per
scenario: requests, 5xx, other non-2xx, requests/s and the ratio to the floor, p50/p99, and the most
connections to the bench's database seen in ``pg_stat_activity`` (sampled every 20 ms) against the pool.
The run fails (exit 1) when any answer was a 5xx: the goal is the load held, not a rate.

Environment: BENCH_DATABASE_URL (PostgreSQL server, default TEST_DATABASE_URL or the local one; a
temporary database is created and dropped), BENCH_REDIS_URL (default TEST_REDIS_URL; keys under a
unique prefix), BENCH_LOAD_CLIENTS, BENCH_LOAD_SECONDS, BENCH_LOAD_POOL (default 8).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _setup import (
    RedisServer,
    TemporaryDatabase,
    delete_redis_prefix,
    free_port,
    manage,
    project_env,
    stop,
    temporary_postgres,
)
from _setup import daphne as start_daphne
from _setup import redis_url as bench_redis_url

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "200"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))
POOL = int(os.environ.get("BENCH_LOAD_POOL", "8"))
TOKENS = 50


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    server_errors: int = 0
    other: int = 0
    failures: int = 0
    # (monotonic end, latency, status code; 0 when the request failed)
    finished: list[tuple[float, float, int]] = field(default_factory=list)

    def window(self, start: float, end: float) -> Tally:
        """The requests that finished in [start, end)."""
        part = Tally()
        for done, latency, status in self.finished:
            if start <= done < end:
                part.finished.append((done, latency, status))
                if status == 0:
                    part.failures += 1
                    continue
                part.latencies.append(latency)
                if status >= 500:
                    part.server_errors += 1
                elif status >= 300:
                    part.other += 1
        return part


class ConnectionWatch(threading.Thread):
    def __init__(self, params: dict[str, Any], database: str) -> None:
        super().__init__(daemon=True)
        import psycopg

        self.connection = psycopg.connect(**params, autocommit=True)
        self.database = database
        self.most = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            row = self.connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database,),
            ).fetchone()
            self.most = max(self.most, int(row[0]) if row else 0)
            self.halt.wait(0.02)

    def reset(self) -> None:
        self.most = 0

    def close(self) -> None:
        self.halt.set()
        self.join(5)
        self.connection.close()


async def hammer(base: str, paths: list[tuple[str, dict[str, str]]], seconds: float) -> Tally:
    import httpx

    tally = Tally()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def one(client: httpx.AsyncClient, index: int) -> None:
        path, headers = paths[index % len(paths)]
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                response = await client.get(path, headers=headers)
            except httpx.HTTPError:
                tally.failures += 1
                tally.finished.append((time.monotonic(), time.perf_counter() - began, 0))
                continue
            tally.latencies.append(time.perf_counter() - began)
            tally.finished.append((time.monotonic(), tally.latencies[-1], response.status_code))
            if response.status_code >= 500:
                tally.server_errors += 1
            elif response.status_code >= 300:
                tally.other += 1

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        await asyncio.gather(*(one(client, i) for i in range(CLIENTS)))
    return tally


SETUP = """
from datetime import UTC, datetime, timedelta
from django.contrib.auth import get_user_model
from django.test import Client
from accounts.models import ApiToken, Membership, default_team_id
from metrics.stores import get_store
from pollers.models import Source
store = get_store()
t0 = datetime(2026, 1, 1, tzinfo=UTC)
for source in Source.objects.all():
    for i in range(60):
        store.record(source.spec(), {"status": "ok", "results": {"stats": {"online": i, "cpu_load": i % 90}}},
                     t0 + timedelta(seconds=30 * i))
user = get_user_model().objects.create_user("bench", "bench@localhost", "bench-password-long-enough")
Membership.objects.create(user=user, team_id=default_team_id(), role="viewer")  # the sources' team
client = Client()
client.force_login(user)
print("session", client.cookies["sessionid"].value)
for n in range(TOKEN_COUNT):
    print("token", ApiToken.issue(user, f"bench {n}")[1])
print("slug", Source.objects.order_by("slug").first().slug)
"""


def print_row(title: str, tally: Tally, seconds: float, floor_rate: float, connections: str) -> None:
    latencies = sorted(tally.latencies)
    rate = len(latencies) / seconds
    p50 = latencies[len(latencies) // 2] * 1e3 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] * 1e3 if latencies else float("nan")
    print(
        f"{title:<34} {len(latencies):>9} {tally.server_errors:>5} {tally.other + tally.failures:>6} "
        f"{rate:>8.1f} {rate / floor_rate:>8.2f} {p50:>8.1f} {p99:>8.1f} {connections:>10}"
    )


def redis_outage(env: dict[str, str], paths: list[tuple[str, dict[str, str]]], work: Path, floor_rate: float) -> int:
    """The overview, the API and a history page mixed, with the bench's own Redis stopped halfway.

    The pages must keep answering (docs/operations.md: the cache degrades to the store, the channel
    layer to no live pushes): 0 5xx after the stop is the target, and the rate is printed beside
    the same mix's before the stop. Returns the number of 5xx answers.
    """
    if not RedisServer.available():
        print("Redis stopped mid-run: skipped (no redis-server)")
        return 0
    server = RedisServer(work)
    server.start()
    web: subprocess.Popen[bytes] | None = None
    try:
        web, port = start_daphne({**env, "REDIS_URL": server.url}, work / "daphne-outage.log")
        base_url = f"http://127.0.0.1:{port}"
        asyncio.run(hammer(base_url, paths, min(3.0, SECONDS)))  # warm-up

        async def run() -> tuple[Tally, float, float]:
            began = time.monotonic()
            load = asyncio.create_task(hammer(base_url, paths, SECONDS))
            await asyncio.sleep(SECONDS / 2)
            await asyncio.to_thread(server.stop)
            stopped = time.monotonic()
            return await load, began, stopped

        tally, began, stopped = asyncio.run(run())
        ended = max((done for done, _, _ in tally.finished), default=stopped)
        print_row("mixed, Redis up", tally.window(began, stopped), stopped - began, floor_rate, "-")
        print_row("mixed, Redis stopped mid-run", tally.window(stopped, ended + 1), ended - stopped, floor_rate, "-")
        text = (work / "daphne-outage.log").read_text(errors="replace")
        lines = [line for line in text.splitlines() if " ERROR " in line or " WARNING " in line or "Traceback" in line]
        print(f"daphne warning/error/traceback lines during the outage run: {len(lines)}")
        for line in sorted({line[24:200] for line in lines})[:8]:
            print(f"  {line}")
        return tally.server_errors
    finally:
        if web is not None:
            stop(web, timeout=30)
        server.stop()


def main() -> int:
    with temporary_postgres("load") as database:
        if database is None:
            return 0
        return run(database)


def run(database: TemporaryDatabase) -> int:
    redis_url = bench_redis_url()
    work = tempfile.mkdtemp(prefix="bench-load-")
    cache_prefix = f"benchload{uuid.uuid4().hex[:6]}"
    env = project_env(
        VAR_DIR=work,
        DATABASE_URL=database.url,
        DATABASE_POOL_MIN_SIZE="2",
        DATABASE_POOL_MAX_SIZE=str(POOL),
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=cache_prefix,
        API_RATE_LIMIT_IP="1000000/m",  # every client is 127.0.0.1 here; per-token limits stay as shipped
    )
    params, name = database.params, database.name
    web: subprocess.Popen[bytes] | None = None
    watch: ConnectionWatch | None = None
    server_errors = 0  # 5xx answers over every scenario and the Redis outage run
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--simulator-port", str(free_port()))
        out = manage(env, "shell", "--no-imports", "-c", SETUP.replace("TOKEN_COUNT", str(TOKENS))).split("\n")
        session = next(line.split()[1] for line in out if line.startswith("session "))
        tokens = [line.split()[1] for line in out if line.startswith("token ")]
        slug = next(line.split()[1] for line in out if line.startswith("slug "))

        web, port = start_daphne(env, Path(work) / "daphne.log")
        base_url = f"http://127.0.0.1:{port}"
        cookie = {"Cookie": f"sessionid={session}"}
        scenarios: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
            ("floor: GET /api/v1/health", [("/api/v1/health", {})]),
            ("overview (session)", [("/", cookie)]),
            (
                "GET /api/v1/metrics (50 tokens)",
                [("/api/v1/metrics", {"Authorization": f"Bearer {t}"}) for t in tokens],
            ),
            ("history page (session)", [(f"/sources/{slug}/changes/", cookie)]),
        ]
        asyncio.run(hammer(base_url, [p for _, ps in scenarios for p in ps[:1]], min(3.0, SECONDS)))  # warm-up
        watch = ConnectionWatch(params, name)
        watch.start()
        print(f"one daphne process, pool {POOL}, {CLIENTS} concurrent clients, {SECONDS:g} s per scenario")
        print(
            f"{'scenario':<34} {'requests':>9} {'5xx':>5} {'other':>6} {'req/s':>8} {'x floor':>8} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'max conns':>10}"
        )
        floor_rate = 0.0
        for title, paths in scenarios:
            watch.reset()
            tally = asyncio.run(hammer(base_url, paths, SECONDS))
            floor_rate = floor_rate or len(tally.latencies) / SECONDS
            server_errors += tally.server_errors
            print_row(title, tally, SECONDS, floor_rate, f"{watch.most:>5} / {POOL:<3}")
        text = (Path(work) / "daphne.log").read_text(errors="replace")
        for marker in ("too many clients", "_session_cache", "PoolTimeout"):
            print(f"daphne log lines with {marker!r}: {text.count(marker)}")
        stop(web, timeout=30)
        web = None
        mixed = [p for _, ps in scenarios[1:] for p in ps[:3]]
        server_errors += redis_outage(env, mixed, Path(work), floor_rate)
    finally:
        if watch is not None:
            watch.close()
        if web is not None:
            stop(web, timeout=30)
        delete_redis_prefix(redis_url, cache_prefix)
    if server_errors:  # the goal is load held: a 5xx is a failed run, whatever the rates
        print(f"bench: load not held: {server_errors} answers 5xx (target 0)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
