"""Memory flat on the web side: one daphne process holding 1,000 WebSocket clients over 10,000 updates.

The poller's half of issue 15's goal 3 is bench/memory.py; this is the other half, "the same for a daphne
process with 1,000 connections over 10,000 updates". daphne serves ``ws/metrics/`` on the Redis pub/sub
channel layer (the documented production layer) to real ``websockets`` clients in this process, all
authenticated with an API token and subscribed to one source; a publisher process sends updates through
``realtime.events`` exactly as the poller does, one every ``--interval`` seconds (default 0.1: ten a
second keeps daphne's fan-out to 1,000 clients well under one core, so a backlog is not mistaken for a
leak). It prints daphne's resident memory when the clients are connected, after a warm-up of
``--warm-up`` updates, at the half-way point and at the end, the growth after warm-up per 10,000 updates
(the goal: at most 2%), and the messages lost (goal 0). When the growth is above the goal, 2,000 more
updates are fanned out with tracemalloc on in daphne and its top growth sites are printed.

Options: --clients, --updates, --warm-up, --interval. Environment: BENCH_REDIS_URL (default TEST_REDIS_URL
or redis://127.0.0.1:6379/14; the database is flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from _setup import ROOT, free_port, stop, wait_for_port
from ws_fanout import CONNECT_CONCURRENCY, REDIS_URL, SEQUENCE, UPDATE_PREFIX, open_client, prepare

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024
GROWTH_TARGET = 2.0  # percent per 10,000 updates after warm-up
TRACED_TAIL = 2000  # updates traced after the checkpoints when the growth is above target


@dataclass
class Progress:
    """What the clients saw: each one's received sequences (to count losses) and the highest overall."""

    received: list[set[int]] = field(default_factory=list)
    highest: int = 0
    dropped: int = 0


async def listen(ws: object, seen: set[int], progress: Progress) -> None:
    try:
        async for raw in ws:  # type: ignore[attr-defined]
            if raw.startswith(UPDATE_PREFIX) and (match := SEQUENCE.search(raw)):
                sequence = int(match.group(1))
                seen.add(sequence)
                progress.highest = max(progress.highest, sequence)
    except Exception:
        progress.dropped += 1


async def publish(env: dict[str, str], seconds: float, interval: float, stdout: int) -> asyncio.subprocess.Process:
    """The publisher process: an update through ``realtime.events`` every ``interval`` s for ``seconds``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "_ws_publisher.py"),
        "--mode",
        "django",
        "--seconds",
        f"{seconds:.3f}",
        "--interval",
        str(interval),
        cwd=ROOT,
        env=env,
        stdout=stdout,
    )


async def run(args: argparse.Namespace, env: dict[str, str], token: str, server: psutil.Process, port: int) -> int:
    url = f"ws://127.0.0.1:{port}/ws/metrics/"
    headers = {"Authorization": f"Bearer {token}"}
    subscribe = json.dumps({"type": "subscribe", "sources": ["bench"]})
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> object | None:
        async with gate:
            try:
                return await open_client(url, headers, subscribe)
            except Exception as exc:
                print(f"  a client failed to connect: {type(exc).__name__}: {exc}", file=sys.stderr)
                return None

    clients = [ws for ws in await asyncio.gather(*(one() for _ in range(args.clients))) if ws is not None]
    progress = Progress(received=[set() for _ in clients])
    listeners = [
        asyncio.create_task(listen(ws, seen, progress)) for ws, seen in zip(clients, progress.received, strict=True)
    ]
    await asyncio.sleep(1.0)
    checkpoints = {0: server.memory_info().rss}
    marks = sorted({args.warm_up, args.warm_up + (args.updates - args.warm_up) // 2, args.updates})
    publisher = await publish(env, args.updates * args.interval, args.interval, asyncio.subprocess.PIPE)
    waiting = asyncio.create_task(publisher.communicate())
    # Memory is read when the clients have seen each mark: the state after that many updates were fanned out.
    for mark in marks:
        while progress.highest < mark and not waiting.done():
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        checkpoints[mark] = server.memory_info().rss
        print(f"  after {mark:>6} updates: daphne RSS {checkpoints[mark] / MIB:7.1f} MiB", flush=True)
    out, _ = await waiting
    published = int(out.decode().strip().splitlines()[-1])
    await asyncio.sleep(3.0)  # the last updates in flight
    warm, end = checkpoints[args.warm_up], checkpoints[args.updates]
    growth = 100 * (end - warm) / warm * 10_000 / max(1, args.updates - args.warm_up)
    sites = await traced_tail(args, env, server) if growth > GROWTH_TARGET else []
    for ws in clients:
        await ws.close()  # type: ignore[attr-defined]
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)

    expected = set(range(1, published + 1))
    lost = sum(len(expected - seen) for seen in progress.received)
    print()
    print("| measure | value |\n| --- | --- |")
    print(f"| clients connected | {len(clients)} of {args.clients} |")
    print(f"| updates published | {published} (every {args.interval:g} s) |")
    print(f"| daphne RSS, clients connected | {checkpoints[0] / MIB:.1f} MiB |")
    for mark in marks:
        print(f"| daphne RSS after {mark:,} updates | {checkpoints[mark] / MIB:.1f} MiB |")
    print(f"| growth after warm-up, per 10,000 updates | {growth:+.2f}% (target <= {GROWTH_TARGET:g}%) |")
    print(f"| messages lost | {lost} (target 0); connections dropped {progress.dropped} |")
    if sites:
        print(f"growth above target: top tracemalloc growth sites in daphne over {TRACED_TAIL:,} more updates")
        print("(traced after the last checkpoint, so the checkpoints above ran untraced):")
        for line in sites:
            print(f"  {line}")
    if progress.dropped:
        # daphne pings every 20 s and closes a connection whose pong is 30 s late: clients that fell behind
        # (this one process could not read 1,000 x ten updates a second on a busy machine) are cut off, and
        # the server's RSS then holds their unsent backlog. Such a run measures the harness, not the server.
        print(
            "invalid run: connections were dropped (clients fell behind); run on an idle machine "
            "or with a longer --interval"
        )
    complete = len(clients) == args.clients and published == args.updates and not progress.dropped
    return 0 if complete else 1


async def traced_tail(args: argparse.Namespace, env: dict[str, str], server: psutil.Process) -> list[str]:
    """Where daphne's memory grows: TRACED_TAIL more updates with tracemalloc on in the server
    (bench/_traced_asgi.py), the top sites read back from its file."""
    out = Path(env["BENCH_TRACE_OUT"])
    server.send_signal(signal.SIGUSR1)
    await asyncio.sleep(2.0)  # the baseline snapshot
    publisher = await publish(env, TRACED_TAIL * args.interval, args.interval, asyncio.subprocess.DEVNULL)
    await publisher.wait()
    await asyncio.sleep(3.0)  # the last updates in flight
    server.send_signal(signal.SIGUSR2)
    for _ in range(300):
        if out.exists():
            return out.read_text().splitlines()
        await asyncio.sleep(0.2)
    return ["(daphne wrote no tracemalloc sites within 60 s)"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--warm-up", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    if not 0 < args.warm_up < args.updates:
        parser.error("--warm-up must be above 0 and below --updates")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * args.clients + 1024)), hard))
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        print(f"ws_memory: Redis at {REDIS_URL} is not reachable ({type(exc).__name__}); skipped")
        return 1
    print(
        f"ws_memory: one daphne (Redis pub/sub layer), {args.clients} clients, {args.updates:,} updates "
        f"every {args.interval:g} s, warm-up {args.warm_up:,}; Redis {REDIS_URL}",
        flush=True,
    )
    redis.Redis.from_url(REDIS_URL).flushdb()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-ws-memory-"))
    proc = None
    try:
        env, token = prepare(var_dir)
        env = {
            **env,
            "REALTIME_CHANNEL_LAYER": "pubsub",
            # The product's application, traceable on a signal (bench/_traced_asgi.py).
            "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
            "BENCH_TRACE_OUT": str(var_dir / "tracemalloc-sites.txt"),
        }
        port = free_port()
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "_traced_asgi:application"]
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for_port("127.0.0.1", port, timeout=120, proc=proc):
            print("ws_memory: daphne did not start")
            return 1
        return asyncio.run(run(args, env, token, psutil.Process(proc.pid), port))
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(var_dir, ignore_errors=True)
        redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    raise SystemExit(main())
