"""WebSocket fan-out: 100, 1,000 and 2,000 clients on one daphne process, one update per second.

For each client count it measures, from the publisher's clock to the client's receipt:
latency p50/p99, messages lost (sequence gaps), server memory per connection and server CPU, for

- the floor: a bare ``websockets`` broadcast server fed by Redis pub/sub (bench/_ws_floor_server.py);
- daphne serving ``ws/metrics/`` with ``RedisChannelLayer`` (REALTIME_CHANNEL_LAYER=redis);
- daphne serving ``ws/metrics/`` with ``RedisPubSubChannelLayer`` (REALTIME_CHANNEL_LAYER=pubsub);
- uvicorn (``--ws websockets-sansio --ws-per-message-deflate false``) serving the same application on the
  pub/sub layer, when installed;

- on request (BENCH_WS_SERVERS), a second floor: bench/_ws_bare_asgi.py, an ASGI application that
  accepts, answers and relays Redis pub/sub and does nothing else, under daphne (``bare-daphne``) or
  uvicorn (``bare-uvicorn``): the server's own handshake and send path, without the project's;

and prints, as multiples of the floor's (issue 15, goal 4): p99 (target <= 2x), server CPU per update
(<= 1.5x), fan-out throughput (frames written per server CPU second) and the connection rate
(>= 0.5x); lost messages (target 0); and, from the daphne process's own ``/metrics``, how many times
each update was encoded to JSON (target: once per update per process, whatever the client count).

The clients are real ``websockets`` clients in
this process, authenticated with an API token and subscribed to one source; the publisher is a
separate process going through ``realtime.events`` exactly as the poller does.

Environment: BENCH_WS_SECONDS (publishing time per run, default 60: a minute of updates, as the fan-out
target asks; a shorter run, for a quick look, says so in its first line),
BENCH_WS_CLIENTS (default "100,1000,2000"),
BENCH_WS_CONNECT_PHASES (default 5: the clients connect that many times, all closed between phases but the
last, and the connection rate and CPU per connection are the phases' medians; one phase of about a second
read 0.37x-0.82x of the same floor on one idle machine),
BENCH_WS_SERVERS (default "floor,redis,pubsub,uvicorn": uvicorn with its ``websockets-sansio``
implementation, measured when installed, per the issue's "another ASGI server";
add bare-daphne and bare-uvicorn for the second floor),
BENCH_REDIS_URL (default TEST_REDIS_URL or
redis://127.0.0.1:6379/14; the database is flushed).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
import redis
from _setup import ROOT, free_port, project_env, stop, wait_for_port
from websockets.asyncio.client import ClientConnection, connect

HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("BENCH_WS_SECONDS", "60"))
CLIENTS = [int(n) for n in os.environ.get("BENCH_WS_CLIENTS", "100,1000,2000").split(",")]
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/14"
# Which servers to measure beside the floor; uvicorn only when it is installed (it is not a dependency).
SERVERS = [s for s in os.environ.get("BENCH_WS_SERVERS", "floor,redis,pubsub,uvicorn").split(",") if s]
if importlib.util.find_spec("uvicorn") is None:
    SERVERS = [s for s in SERVERS if s not in ("uvicorn", "bare-uvicorn")]
CONNECT_CONCURRENCY = 50
CONNECT_PHASES = int(os.environ.get("BENCH_WS_CONNECT_PHASES", "5"))
if CONNECT_PHASES < 1:
    raise SystemExit("BENCH_WS_CONNECT_PHASES must be at least 1")
UPDATE_PREFIX = '{"type":"update"'
SEQUENCE = re.compile(r'"sequence":(\d+)')
PUBLISHED_AT = re.compile(r'"published_at":"([^"]+)"')
GRACE_SECONDS = 3.0


@dataclass
class ClientLog:
    sequences: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    dropped: bool = False


@dataclass
class Result:
    server: str
    clients: int
    connected: int
    published: int
    latencies: list[float]
    lost: int
    memory_per_connection: float
    cpu_ms_per_update: float
    connect_rates: list[float]  # connections per second, one per connect phase
    connect_cpu_ms: float  # median server CPU per connection while clients connected (steadier than conn/s when shared)
    encodes: float | None = None  # JSON encodes of updates in the server during the run (daphne only)

    @property
    def connect_rate(self) -> float:
        return statistics.median(self.connect_rates) if self.connect_rates else float("nan")

    @property
    def frames_per_cpu_second(self) -> float:
        cpu_seconds = self.cpu_ms_per_update * self.published / 1000
        return len(self.latencies) / cpu_seconds if cpu_seconds > 0 else float("nan")

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def open_client(url: str, headers: dict[str, str], subscribe: str) -> ClientConnection:
    ws = await connect(url, additional_headers=headers, open_timeout=60, max_size=2**22, ping_interval=None)
    await ws.send(subscribe)
    reply = json.loads(await ws.recv())
    if reply.get("type") != "snapshot":
        raise RuntimeError(f"subscribe failed: {reply}")
    return ws


async def listen(ws: ClientConnection, log: ClientLog) -> None:
    try:
        async for raw in ws:
            received = time.time()
            # Two fields by regex instead of decoding 3 KB of JSON: with every client in this one
            # process, the harness's own parsing would otherwise dominate what is measured.
            sequence = SEQUENCE.search(raw)
            published = PUBLISHED_AT.search(raw)
            if raw.startswith(UPDATE_PREFIX) and sequence and published:
                log.sequences.append(int(sequence.group(1)))
                log.latencies.append(received - datetime.fromisoformat(published.group(1)).timestamp())
    except Exception:
        log.dropped = True


def update_encodes(origin: str | None) -> float | None:
    """``devops_insights_websocket_encodes_total{type="update"}`` of the server at ``origin`` (loopback may scrape)."""
    if origin is None:
        return None
    import urllib.request

    with urllib.request.urlopen(f"{origin}/metrics", timeout=10) as response:  # noqa: S310 - loopback
        for line in response.read().decode().splitlines():
            if line.startswith('devops_insights_websocket_encodes_total{type="update"}'):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def drive(
    name: str,
    n: int,
    url: str,
    headers: dict[str, str],
    server: psutil.Process,
    publisher_argv: list[str],
    publisher_env: dict[str, str],
    origin: str | None = None,
) -> Result:
    subscribe = json.dumps({"type": "subscribe", "sources": ["bench"]})
    # One connection first, so the baseline includes everything loaded on first use.
    warm = await open_client(url, headers, subscribe)
    await asyncio.sleep(0.5)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> ClientConnection | None:
        async with gate:
            try:
                return await open_client(url, headers, subscribe)
            except Exception as exc:
                print(f"  {name}: a client failed to connect: {type(exc).__name__}: {exc}", file=sys.stderr)
                return None

    # The connection rate is the median of several connect phases of all ``n`` clients: one phase lasts about
    # a second, and a hiccup of either process moved it by half. Every phase but the last is closed again
    # (each close handshake answered, so the server has seen it) before the next; the last stays open for
    # the fan-out. Memory per connection is read after the first phase, before any connection was freed.
    connect_rates: list[float] = []
    connect_cpu_ms: list[float] = []
    memory_per_connection = 0.0
    opened: list[ClientConnection] = []
    for phase in range(CONNECT_PHASES):
        rss_before = server.memory_info().rss
        connect_cpu_before = server.cpu_times()
        started = time.monotonic()
        opened = [ws for ws in await asyncio.gather(*(one() for _ in range(n))) if ws is not None]
        connect_seconds = time.monotonic() - started
        connect_cpu = server.cpu_times()
        connect_rates.append(len(opened) / connect_seconds)
        connect_cpu_ms.append(1000 * (sum(connect_cpu[:2]) - sum(connect_cpu_before[:2])) / max(1, len(opened)))
        if phase == 0:
            await asyncio.sleep(1.0)
            memory_per_connection = (server.memory_info().rss - rss_before) / max(1, len(opened))
        if phase < CONNECT_PHASES - 1:
            await asyncio.gather(*(ws.close() for ws in opened))
            await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)

    logs = [ClientLog() for _ in opened]
    listeners = [asyncio.create_task(listen(ws, log)) for ws, log in zip(opened, logs, strict=True)]
    # The first connection is read too, though not counted: unread, its queue would fill and stop it
    # answering pings, and the floor (which pings) would drop it with a traceback mid-run.
    listeners.append(asyncio.create_task(listen(warm, ClientLog())))
    # The scrape first: rendering /metrics is the server's CPU, but not the fan-out's (the floor has none).
    encodes_before = await asyncio.to_thread(update_encodes, origin)
    cpu_before = server.cpu_times()
    publisher = await asyncio.create_subprocess_exec(
        *publisher_argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, env=publisher_env
    )
    out, _ = await publisher.communicate()
    published = int(out.decode().strip().splitlines()[-1])
    await asyncio.sleep(GRACE_SECONDS)
    cpu_after = server.cpu_times()
    # Server CPU spent per published update (fan-out to every client): steadier than latency on a
    # shared machine, since it does not count time spent waiting for a core.
    cpu_seconds = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    cpu_ms_per_update = 1000 * cpu_seconds / max(1, published)
    encodes_after = await asyncio.to_thread(update_encodes, origin)
    encodes = None if encodes_before is None or encodes_after is None else encodes_after - encodes_before

    for ws in [warm, *opened]:
        await ws.close()
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)

    expected = set(range(1, published + 1))
    lost_by_sequence: dict[int, int] = {}
    for log in logs:
        for sequence in expected - set(log.sequences):
            lost_by_sequence[sequence] = lost_by_sequence.get(sequence, 0) + 1
    lost = sum(lost_by_sequence.values())
    if lost:
        worst = sorted(lost_by_sequence.items(), key=lambda item: -item[1])[:10]
        dropped = sum(log.dropped for log in logs)
        print(f"  {name} @ {n}: lost (sequence: clients) {worst}; connections dropped: {dropped}", file=sys.stderr)
    latencies = [latency for log in logs for latency in log.latencies]
    return Result(
        name,
        n,
        len(opened),
        published,
        latencies,
        lost,
        memory_per_connection,
        cpu_ms_per_update,
        connect_rates,
        statistics.median(connect_cpu_ms),
        encodes,
    )


def flush_redis() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


def run_floor(n: int) -> Result:
    flush_redis()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_ws_floor_server.py"), "--port", str(port), "--redis-url", REDIS_URL],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        # The server prints "ready" once listening (probing the port would log a failed handshake).
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the floor server did not start")
        publisher = [sys.executable, str(HERE / "_ws_publisher.py"), "--mode", "redis", "--redis-url", REDIS_URL]
        publisher += ["--seconds", str(SECONDS)]
        url = f"ws://127.0.0.1:{port}/"
        server = psutil.Process(proc.pid)
        return asyncio.run(drive("floor: bare websockets", n, url, {}, server, publisher, dict(os.environ)))
    finally:
        stop(proc)


def uvicorn_argv(port: int, app: str) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    argv += ["--ws", "websockets-sansio", "--no-access-log", "--log-level", "warning", "--backlog", "4096"]
    # As documented for uvicorn (docs/realtime.md): no per-message compression, like daphne, so
    # that one frame serves every connection (realtime/direct.py).
    return [*argv, "--ws-per-message-deflate", "false"]


def run_bare(n: int, server: str) -> Result:
    """The second floor: bench/_ws_bare_asgi.py under daphne (bare-daphne) or uvicorn (bare-uvicorn)."""
    flush_redis()
    port = free_port()
    app = "_ws_bare_asgi:application"
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    if server == "bare-uvicorn":
        argv = uvicorn_argv(port, app)
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}", "BENCH_FLOOR_REDIS_URL": REDIS_URL}
    proc = subprocess.Popen(argv, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for_port("127.0.0.1", port, timeout=120, proc=proc):
            raise RuntimeError(f"{server} did not start")
        publisher = [sys.executable, str(HERE / "_ws_publisher.py"), "--mode", "redis", "--redis-url", REDIS_URL]
        publisher += ["--seconds", str(SECONDS)]
        url = f"ws://127.0.0.1:{port}/"
        return asyncio.run(drive(SERVER_NAMES[server], n, url, {}, psutil.Process(proc.pid), publisher, env))
    finally:
        stop(proc)


SERVER_NAMES = {
    "bare-daphne": "bare ASGI app (floor 2), daphne",
    "bare-uvicorn": "bare ASGI app (floor 2), uvicorn",
    "redis": "daphne + RedisChannelLayer",
    "pubsub": "daphne + RedisPubSubChannelLayer",
    "uvicorn": "uvicorn websockets-sansio + pubsub",
}


def run_daphne(n: int, server: str, env: dict[str, str], token: str) -> Result:
    """``server``: redis or pubsub (daphne with that channel layer), or uvicorn (websockets-sansio)."""
    flush_redis()
    port = free_port()
    env = {**env, "REALTIME_CHANNEL_LAYER": "pubsub" if server == "uvicorn" else server}
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "devops_insights.asgi:application"]
    if server == "uvicorn":
        argv = uvicorn_argv(port, "devops_insights.asgi:application")
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_for_port("127.0.0.1", port, timeout=120, proc=proc):
            raise RuntimeError(f"{server} did not start")
        publisher = [sys.executable, str(HERE / "_ws_publisher.py"), "--mode", "django", "--seconds", str(SECONDS)]
        name = SERVER_NAMES[server]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"ws://127.0.0.1:{port}/ws/metrics/"
        origin = f"http://127.0.0.1:{port}"
        return asyncio.run(drive(name, n, url, headers, psutil.Process(proc.pid), publisher, env, origin))
    finally:
        stop(proc)


def prepare(var_dir: Path) -> tuple[dict[str, str], str]:
    """A fresh SQLite project under ``var_dir``: migrated, one user, one API token, one source."""
    env = project_env(
        VAR_DIR=str(var_dir),
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX="bench",
        # The bench measures fan-out, not the per-connection message limit of one client.
        REALTIME_MAX_MESSAGES_PER_SECOND="20",
        # Thousands of clients share one token here: the per-user and per-token caps (docs/security.md) are off.
        REALTIME_MAX_CONNECTIONS_PER_USER="0",
        REALTIME_MAX_CONNECTIONS_PER_TOKEN="0",  # noqa: S106 - a count, not a password
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from accounts.models import ApiToken, Membership, default_team_id\n"
        "from pollers.models import Source\n"
        "user = get_user_model().objects.create_user('bench', 'bench@localhost', 'bench-password-long')\n"
        "Membership.objects.create(user=user, team_id=default_team_id(), role='viewer')\n"
        "Source.objects.create(slug='bench', name='bench', url='http://127.0.0.1:9/bench')\n"
        "print(ApiToken.issue(user, 'bench')[1])\n"
    )
    out = subprocess.run(
        [*manage, "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return env, out.stdout.strip().splitlines()[-1]


def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * max(CLIENTS) + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # inherited by the servers we start
    if wanted < 2 * max(CLIENTS) + 256:
        print(f"ws_fanout: file descriptor limit {wanted} is too low for {max(CLIENTS)} clients")
        return 1
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        print(f"ws_fanout: Redis at {REDIS_URL} is not reachable ({type(exc).__name__}); skipped")
        return 1

    note = ""
    if SECONDS < 60:
        note = f" (shortened from a minute to {SECONDS:g}s per run by BENCH_WS_SECONDS)"
    print(f"ws_fanout: 1 update/s for {SECONDS:g}s per run{note}; clients {CLIENTS}; Redis {REDIS_URL}")
    print(f"  conn/s and CPU ms/conn: the median of {CONNECT_PHASES} connect phases of every client")
    print("  latency = publisher clock to client receipt, both on this machine; all clients in one asyncio process")
    results: list[Result] = []
    var_dir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    try:
        env, token = prepare(var_dir)
        for n in CLIENTS:
            for server in SERVERS:
                if server == "floor":
                    result = run_floor(n)
                elif server.startswith("bare-"):
                    result = run_bare(n, server)
                else:
                    result = run_daphne(n, server, env, token)
                results.append(result)
                rates = ", ".join(f"{rate:.0f}" for rate in result.connect_rates)
                print(
                    f"  done: {result.server:34} {n:>5} clients, connected {result.connected}; "
                    f"connections/s per phase: {rates}",
                    flush=True,
                )
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
        flush_redis()

    header = (
        f"{'clients':>7} | {'server':34} | {'p50 ms':>7} | {'p99 ms':>7} | {'lost':>5} | {'received':>9} "
        f"| {'KiB/conn':>8} | {'CPU ms/update':>13} | {'encodes/update':>14} | {'conn/s':>7} | {'CPU ms/conn':>11} "
        f"| {'p99 x floor':>11} | {'CPU x floor':>11} | {'frames/CPU-s x floor':>20} | {'conn/s x floor':>14}"
    )
    print()
    print(header)
    print("-" * len(header))
    floors = {r.clients: r for r in results if r.server.startswith("floor")}

    def ratio(value: float, floor_value: float | None) -> float:
        return value / floor_value if floor_value else float("nan")

    for result in results:
        p99 = result.percentile(99)
        floor = floors.get(result.clients)
        floor_p99 = floor.percentile(99) if floor and floor.latencies else None
        encodes = "-" if result.encodes is None else f"{result.encodes / max(1, result.published):.2f}"
        print(
            f"{result.clients:>7} | {result.server:34} | {result.percentile(50):7.1f} | {p99:7.1f} | {result.lost:>5} "
            f"| {len(result.latencies):>9} | {result.memory_per_connection / 1024:8.1f} "
            f"| {result.cpu_ms_per_update:13.1f} | {encodes:>14} | {result.connect_rate:7.0f} "
            f"| {result.connect_cpu_ms:11.2f} "
            f"| {ratio(p99, floor_p99):11.2f} "
            f"| {ratio(result.cpu_ms_per_update, floor and floor.cpu_ms_per_update):11.2f} "
            f"| {ratio(result.frames_per_cpu_second, floor and floor.frames_per_cpu_second):20.2f} "
            f"| {ratio(result.connect_rate, floor and floor.connect_rate):14.2f}"
        )
    print(
        "targets (issue 15, goal 4): p99 <= 2x floor at 1,000 and 2,000 clients, CPU per update <= 1.5x, "
        "connection rate >= 0.5x, 0 lost, 1.00 encodes per update"
    )
    ours = [r for r in results if not r.server.startswith(("floor", "bare"))]
    worst = max((r.percentile(99) for r in ours), default=float("nan"))
    print(f"\ntarget (the original Node service): 1,000+ connections, sub-100 ms updates; our worst p99 {worst:.1f} ms")
    if any(r.connected < r.clients for r in results):
        print("warning: some clients could not connect (see stderr)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
