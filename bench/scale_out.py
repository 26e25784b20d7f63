"""Scale-out, measured (issue 15, goal 5): two web processes and two pollers on PostgreSQL and Redis.

Sources polled by ``manage.py poll --loop`` processes that share them through Redis leases, served by
daphne processes that share one Redis channel layer; WebSocket clients spread evenly across the web
processes, each subscribed to every source, record every ``update`` they receive. The upstream
simulator changes each document every second, so every poll stores a change.

Two runs, the same length, on the same database:

- the floor: one daphne process and one poller, left alone;
- scale-out: two daphne processes and two pollers, one poller killed with SIGKILL halfway through.

Per run: updates received, sequence gaps (a client saw sequence n then n+2 or more for a source)
and duplicates (a sequence seen twice, or out of order) summed over clients and sources (target:
0 and 0), double polls (two stored changes of one source in one slot of ``pollers.schedule``: two
pollers polled one slot; target 0), the longest silence of a source after the kill (the killed poller's
sources are taken over when its leases expire), and the delay from publishing to receipt (p50/p99,
and p99 against the floor's; from the second interval on, not the burst of every source's first poll).

Environment: BENCH_SCALE_SOURCES (40), BENCH_SCALE_CLIENTS (200), BENCH_SCALE_SECONDS (30 per run),
BENCH_DATABASE_URL, BENCH_REDIS_URL (keys under a unique prefix, deleted afterwards).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from _setup import (
    ROOT,
    TemporaryDatabase,
    daphne,
    delete_redis_prefix,
    manage,
    project_env,
    redis_url,
    simulator,
    stop,
    temporary_postgres,
)
from websockets.asyncio.client import ClientConnection, connect

SOURCES = int(os.environ.get("BENCH_SCALE_SOURCES", "40"))
CLIENTS = int(os.environ.get("BENCH_SCALE_CLIENTS", "200"))
SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "30"))
INTERVAL = 5  # the shortest interval a source may have
GRACE_SECONDS = 3.0

SETUP = """
from django.contrib.auth import get_user_model
from accounts.models import ApiToken, Membership, default_team_id
from pollers.models import Source
team = default_team_id()
Source.objects.bulk_create(
    Source(slug=f"scale-{i:03d}", name=f"Scale {i}", url=f"BASE/scale-{i:03d}?stats=1",
           interval_seconds=INTERVAL, timeout_seconds=2.0, team_id=team)
    for i in range(COUNT)
)
user = get_user_model().objects.create_user("bench", "bench@localhost", "bench-password-long-enough")
# A viewer of the sources' team: "all" is every source the token may read, none without a membership.
Membership.objects.create(team_id=team, user=user)
print("token", ApiToken.issue(user, "bench")[1])
"""


@dataclass
class ClientLog:
    last: dict[str, int] = field(default_factory=dict)
    gaps: int = 0
    duplicates: int = 0
    received: int = 0
    latencies: list[float] = field(default_factory=list)
    fetched: dict[str, list[float]] = field(default_factory=dict)  # per source, fetched_at of each update
    dropped: bool = False
    since: float = float("inf")  # delays are counted from here: not the burst of every source's first poll


@dataclass
class Run:
    name: str
    logs: list[ClientLog]
    killed_at: float | None

    @property
    def latencies(self) -> list[float]:
        return sorted(latency for log in self.logs for latency in log.latencies)

    def percentile(self, p: float) -> float:
        values = self.latencies
        return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000 if values else float("nan")

    def double_polls(self) -> int:
        """Slots of a source in which more than one change was stored (seen by the first client)."""
        from pollers.schedule import phase, slot_at

        fetched = self.logs[0].fetched if self.logs else {}
        doubled = 0
        for slug, times in fetched.items():
            slots = [slot_at(t, INTERVAL, phase(slug, INTERVAL)) for t in times]
            doubled += len(slots) - len(set(slots))
        return doubled

    def longest_silence(self) -> float:
        """The longest time between two stored changes of one source, after the kill (or over the run)."""
        fetched = self.logs[0].fetched if self.logs else {}
        start = self.killed_at or 0.0
        gaps = [b - a for times in fetched.values() for a, b in itertools.pairwise(times) if b > start]
        return max(gaps, default=float("nan"))


async def open_client(url: str, token: str) -> tuple[ClientConnection, ClientLog]:
    ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60, max_size=2**24)
    await ws.send(json.dumps({"type": "subscribe", "sources": "all"}))
    reply = json.loads(await ws.recv())
    if reply.get("type") != "snapshot":
        raise RuntimeError(f"subscribe failed: {reply}")
    log = ClientLog(last={s["source"]: s["sequence"] for s in reply["snapshots"]})
    return ws, log


async def listen(ws: ClientConnection, log: ClientLog) -> None:
    try:
        async for raw in ws:
            received = time.time()
            message = json.loads(raw)
            if message.get("type") != "update":
                continue
            slug, sequence = message["source"], message["sequence"]
            last = log.last.get(slug)
            if last is not None and sequence <= last:
                log.duplicates += 1
                continue
            if last is not None and sequence > last + 1:
                log.gaps += sequence - last - 1
            log.last[slug] = sequence
            log.received += 1
            published = datetime.fromisoformat(message["published_at"]).timestamp()
            if published >= log.since:
                log.latencies.append(received - published)
            log.fetched.setdefault(slug, []).append(datetime.fromisoformat(message["fetched_at"]).timestamp())
    except Exception:
        log.dropped = True


def start_poller(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "poll", "--loop", "--concurrency", "8"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def measure(name: str, env: dict[str, str], token: str, work: Path, webs: int, pollers: int, kill: bool) -> Run:
    servers = [daphne(env, work / f"{name}-web{i}.log") for i in range(webs)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        urls = [f"ws://127.0.0.1:{port}/ws/metrics/" for _, port in servers]
        gate = asyncio.Semaphore(50)

        async def one(index: int) -> tuple[ClientConnection, ClientLog]:
            async with gate:
                return await open_client(urls[index % len(urls)], token)

        clients = await asyncio.gather(*(one(i) for i in range(CLIENTS)))
        listeners = [asyncio.create_task(listen(ws, log)) for ws, log in clients]
        workers = [start_poller(env, work / f"{name}-poller{i}.log") for i in range(pollers)]
        for _, log in clients:
            log.since = time.time() + INTERVAL
        killed_at = None
        await asyncio.sleep(SECONDS / 2)
        if kill:
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            killed_at = time.time()
        await asyncio.sleep(SECONDS / 2)
        for worker in workers:
            stop(worker)
        await asyncio.sleep(GRACE_SECONDS)
        for ws, _ in clients:
            await ws.close()
        await asyncio.gather(*listeners, return_exceptions=True)
        return Run(name, [log for _, log in clients], killed_at)
    finally:
        for worker in workers:
            stop(worker)
        for proc, _ in servers:
            stop(proc)


def run(database: TemporaryDatabase, work: Path) -> int:
    redis = redis_url(14)
    prefix = f"benchscale{uuid.uuid4().hex[:6]}"
    env = project_env(
        VAR_DIR=str(work),
        DATABASE_URL=database.url,
        DATABASE_POOL_MAX_SIZE="10",
        REDIS_URL=redis,
        CACHE_KEY_PREFIX=prefix,
        POLLER_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
        # One simulator host serves every source: the per-host limit would measure itself.
        POLLER_HOST_RATE_PER_SECOND="1000000",
        POLLER_RETRIES="0",
        # Every client shares one token here: the per-user and per-token caps (docs/security.md) are off.
        REALTIME_MAX_CONNECTIONS_PER_USER="0",
        REALTIME_MAX_CONNECTIONS_PER_TOKEN="0",  # noqa: S106 - a count, not a password
    )
    try:
        with simulator(env, window=1) as port:
            manage(env, "migrate", "--noinput")
            script = SETUP.replace("BASE", f"http://127.0.0.1:{port}/status").replace("COUNT", str(SOURCES))
            out = manage(env, "shell", "--no-imports", "-c", script.replace("INTERVAL", str(INTERVAL)))
            token = next(line.split()[1] for line in out.splitlines() if line.startswith("token "))
            floor = asyncio.run(measure("floor", env, token, work, webs=1, pollers=1, kill=False))
            scaled = asyncio.run(measure("scale-out", env, token, work, webs=2, pollers=2, kill=True))
    finally:
        delete_redis_prefix(redis, prefix)

    print(
        f"{SOURCES} sources every {INTERVAL} s (each poll a change), {CLIENTS} WebSocket clients subscribed to all, "
        f"{SECONDS:g} s per run; PostgreSQL, Redis"
    )
    header = (
        f"{'run':<44} {'updates':>8} {'gaps':>5} {'dupes':>6} {'double polls':>13} {'longest silence':>16} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'p99 x floor':>12} {'dropped':>8}"
    )
    print(header)
    print("-" * len(header))
    floor_p99 = floor.percentile(99)
    for title, result in (
        ("floor: 1 web, 1 poller", floor),
        ("scale-out: 2 web, 2 pollers, 1 poller SIGKILLed", scaled),
    ):
        print(
            f"{title:<44} {sum(log.received for log in result.logs):>8} {sum(log.gaps for log in result.logs):>5} "
            f"{sum(log.duplicates for log in result.logs):>6} {result.double_polls():>13} "
            f"{result.longest_silence():>14.1f} s {result.percentile(50):>7.1f} {result.percentile(99):>7.1f} "
            f"{result.percentile(99) / floor_p99:>12.2f} {sum(log.dropped for log in result.logs):>8}"
        )
    print("targets (issue 15, goal 5): 0 gaps and 0 duplicates in every client's per-source sequence")
    # A run in which no client received an update proves nothing about gaps: it is a failed bench.
    silent = [result.name for result in (floor, scaled) if not any(log.received for log in result.logs)]
    if silent:
        print(f"scale_out: no update reached any client in: {', '.join(silent)}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * CLIENTS + 1024)), hard))
    with temporary_postgres("scale") as database, tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        if database is None:
            return 0
        return run(database, Path(work))


if __name__ == "__main__":
    raise SystemExit(main())
