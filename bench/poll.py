"""Polling benchmark: 1,000 sources against the local upstream simulator.

1. One full cycle (fetch, validate, store, health update, signals) of unchanged documents and of
   changed ones, at concurrency 1 and N, beside the same URLs fetched by a bare concurrent
   ``requests`` + ``json`` loop at the same concurrency (the floor), on SQLite and on PostgreSQL
   (a temporary database). The poller runs as the poll command runs it: batched health writes, and one pool of
   worker threads kept for the whole run, as ``poll --loop`` keeps its own (pollers/workers.py).
2. The p95 scheduling drift of healthy sources in the --loop scheduler while 10% of sources hang
   until their timeout, against the same loop with no hanging source (the floor). SQLite only.
3. Resident memory at the start and after 10,000 polls. SQLite only.
4. One full cycle answered with gzip (SQLite), beside a bare concurrent ``requests`` loop that decodes too
   (and the fetch layer alone, decoding included, beside the same loop).
5. A cycle (SQLite) where 10% of sources answer a 1 GiB gzip bomb (no Content-Length): the poller's peak
   resident memory against the same cycle without bombs, and the p95 scheduling drift of the
   healthy sources in the --loop scheduler meanwhile.
6. PostgreSQL only: the same cycles polled by two poller processes on this host, each with half of the
   sources at half the concurrency (as two pollers share sources through leases), beside two floors (one
   process at the full concurrency, and two processes at half of it each, as the pollers) and against
   one poller process at concurrency 1: what a second core adds, where one process's threads share one
   interpreter.
7. own-core: section 1's cycles again in a child process pinned to the first CPU, the simulator pinned to
   the others (PostgreSQL's server is left to the OS), as when the poller has a core of its own and its
   upstreams and database are elsewhere. On a small host the other sections share every core between the
   poller, the simulator and the database, so the threads of a CPU-bound poller at concurrency 16 compete
   with what they wait for. The floor runs pinned the same way, in the same process. Needs two CPUs.

Each cycle section also prints how much faster concurrency N polled than concurrency 1, beside the floor's own
speed-up in the same run (what bare ``requests`` threads gain on the same cores).

The simulator runs in its own process so it does not share this one's GIL; its documents are stable
for an hour, and a changed cycle polls every source at a new region name. Options: --sources,
--concurrency, --drift-seconds, --memory-polls, --repeats (cycles per row of the cycle section, whose
median is reported; 3 by default), --database (sqlite, postgres or both), --sections (a comma-separated
subset of cycle, drift, memory, gzip, bombs, processes, own-core: the rows to measure, all by default),
--profile (print the top cProfile entries of one unchanged and one changed cycle at concurrency 1 instead
of the rows, and the thread CPU per poll of one such cycle unprofiled).
Environment: BENCH_DATABASE_URL (PostgreSQL server, default TEST_DATABASE_URL or the local one); with --profile,
BENCH_PROFILE_SORT (the pstats order, tottime by default), BENCH_PROFILE_LINES and BENCH_PROFILE_DUMP (a path
prefix for the pstats files).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

from _setup import as_deployed, simulator, temporary_postgres

SECTIONS = ("cycle", "drift", "memory", "gzip", "bombs", "processes", "own-core")
PROCESSES = 2


def setup_environment(var_dir: str) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "MONGODB_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="devops_insights.settings",
        VAR_DIR=var_dir,
        POLLER_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
        # One simulator host serves every source: the per-host limit would measure itself, not the poller.
        POLLER_HOST_RATE_PER_SECOND="1000000",
        POLLER_RETRIES="0",
        LOG_LEVEL="error",
        **as_deployed(),
    )


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, round(len(ordered) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--drift-seconds", type=float, default=20.0)
    parser.add_argument("--memory-polls", type=int, default=10000)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated subset of " + ",".join(SECTIONS)
    )
    parser.add_argument("--repeats", type=int, default=3, help="cycles per row of the cycle section (median)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--shard", help=argparse.SUPPRESS)  # "i/k": a child of the processes section
    parser.add_argument("--pinned", action="store_true", help=argparse.SUPPRESS)  # the own-core section's child
    args = parser.parse_args()
    if args.shard:
        return shard_child(args)
    args.simulator_cpus = None
    if args.pinned:
        # Before any thread starts: threads take the affinity of the thread that starts them.
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[:1])
        args.simulator_cpus = set(cpus[1:])
    args.sections = {name.strip() for name in args.sections.split(",") if name.strip()}
    if not args.sections <= set(SECTIONS):
        parser.error(f"unknown section(s): {', '.join(sorted(args.sections - set(SECTIONS)))}")
    if args.database == "both":
        status = 0
        for database in ("sqlite", "postgres"):
            print(f"\n--- {database} ---", flush=True)
            argv = [a for a in sys.argv[1:] if not a.startswith("--database")]
            status |= subprocess.run([sys.executable, __file__, *argv, f"--database={database}"]).returncode
        return status

    if "own-core" in args.sections and not args.pinned:
        status = own_core(args)
        args.sections.discard("own-core")
        if not args.sections:
            return status
    var_dir = tempfile.mkdtemp(prefix="bench-poll-")
    setup_environment(var_dir)
    if args.database == "postgres":
        with temporary_postgres("poll") as database:
            if database is None:
                return 0
            os.environ["DATABASE_URL"] = database.url
            os.environ["DATABASE_POOL_MAX_SIZE"] = str(args.concurrency + 4)
            # As the poller is deployed (docker-compose.yml, deploy/kubernetes/poller.yaml): a connection lent
            # again within a second skips the pool's health check.
            os.environ["DATABASE_POOL_CHECK_AFTER"] = "1"
            return with_simulator(args)
    return with_simulator(args)


def own_core(args: argparse.Namespace) -> int:
    """Section 7: the cycle rows from a child pinned to one CPU, the simulator on the others."""
    if len(os.sched_getaffinity(0)) < 2:
        print("\nown-core: skipped, this process may run on one CPU only", flush=True)
        return 0
    argv = [
        f"--database={args.database}",
        f"--sources={args.sources}",
        f"--concurrency={args.concurrency}",
        f"--repeats={args.repeats}",
        "--sections=cycle",
        "--pinned",
    ]
    print(f"\nown-core ({args.database}): the poller and its floor on CPU 0, the simulator on the others", flush=True)
    return subprocess.run([sys.executable, __file__, *argv]).returncode


def with_simulator(args: argparse.Namespace) -> int:
    with simulator(dict(os.environ), cpus=args.simulator_cpus) as port:
        return run(args, port)


def run(args: argparse.Namespace, port: int) -> int:
    import django

    django.setup()
    import psutil
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import default_team_id
    from devops_insights.collector import POLLER as POLLER_COLLECTOR
    from devops_insights.collector import settle as settle_collector
    from pollers.circuit import CircuitPolicy
    from pollers.engine import Poller
    from pollers.fetch import Fetcher
    from pollers.health_batch import HealthBatch
    from pollers.leases import LocalLeases
    from pollers.loop import PollerLoop
    from pollers.models import Source
    from pollers.workers import poll_and_hand_back
    from pollers.workers import pool as worker_pool

    call_command("migrate", verbosity=0)
    team = default_team_id()  # bulk_create skips save(), which fills in the default team
    process = psutil.Process()
    n, concurrency = args.sources, args.concurrency
    base = f"http://127.0.0.1:{port}/status"

    def create_sources() -> list[Any]:
        """The bench's ``n`` sources, fresh, in slug order (the memory section starts again from these)."""
        Source.objects.all().delete()
        Source.objects.bulk_create(
            Source(
                slug=f"region-{i:04d}",
                name=f"Region {i}",
                url=f"{base}/region-{i:04d}?stats=1",
                timeout_seconds=2.0,
                team_id=team,
            )
            for i in range(n)
        )
        return list(Source.objects.order_by("slug"))

    sources = create_sources()
    urls = [s.url for s in sources]
    rows: list[tuple[str, str, str, str]] = []
    mib = 1024 * 1024

    # --- 1. one full cycle ----------------------------------------------------------------------
    def bare_cycle(workers: int) -> float:
        return bare_urls_cycle(urls, workers)

    # One pool of worker threads per concurrency, kept for the whole run as ``poll --loop`` keeps its own (idle until
    # the process exits, when concurrent.futures joins them). A pool per cycle left each finished thread's SQLite
    # connection to the collector, and the memory row grew by them (pollers/workers.py).
    pools: dict[int, ThreadPoolExecutor] = {}

    def poller_cycle(poller: Poller, workers: int, tolerated: frozenset[str] = frozenset()) -> float:
        """Every source polled once as the poll command polls (pollers/workers.py); its wall time. A failed poll
        stops the bench unless its kind is ``tolerated``."""
        executor = pools.get(workers)
        if executor is None:
            executor = pools[workers] = worker_pool(workers)
        started = time.perf_counter()
        outcomes = list(executor.map(partial(poll_and_hand_back, poller), sources))
        poller.flush_health()
        failed = [o for o in outcomes if not o.ok and o.error_kind not in tolerated]
        if failed:
            raise SystemExit(f"{len(failed)} polls failed, e.g. {failed[0].error_kind}: {failed[0].error_message}")
        return time.perf_counter() - started

    cycles = 0

    def renamed() -> None:
        """Point every source at a new region name: every document of the next cycle is new."""
        nonlocal cycles
        cycles += 1
        for i, source in enumerate(sources):
            source.url = tagged(f"{base}/region-{i:04d}?stats=1", f"c{cycles}")
        urls[:] = [s.url for s in sources]

    rss_start = process.memory_info().rss
    poller = Poller(fetcher=Fetcher(), circuit_policy=CircuitPolicy.from_settings(), health_batch=HealthBatch())
    settle_collector(POLLER_COLLECTOR)  # as the poll command does before its first poll
    bare_cycle(concurrency)  # warm up: connections, imports
    poller_cycle(poller, concurrency)  # warm up: first records are inserts
    vendor = connection.vendor
    if args.profile:
        import cProfile
        import pstats

        def serial_cycle() -> float:
            """One cycle in this thread (cProfile sees only the thread it runs in); its thread CPU per poll, in ms."""
            cpu_started = time.thread_time()
            for source in sources:
                poller.poll(source)
            poller.flush_health()
            return (time.thread_time() - cpu_started) / n * 1000

        for title, prepare in (("unchanged", lambda: None), ("changed", renamed)):
            # The poll's own CPU, first without the profiler (whose per-call cost inflates it): unlike the wall
            # clock, it leaves out the waits on the database and the simulator, and the other processes of a
            # shared machine.
            prepare()
            cpu = serial_cycle()
            prepare()
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            serial_cycle()
            profiler.disable()
            took = time.perf_counter() - started
            print(
                f"\n{vendor}: {title} cycle of {n} sources at concurrency 1: {took:.2f} s profiled ({n / took:.0f} "
                f"polls/s); {cpu:.2f} ms of this thread's CPU per poll unprofiled"
            )
            if os.environ.get("BENCH_PROFILE_DUMP"):  # a prefix: pstats files to read with callers/callees
                profiler.dump_stats(f"{os.environ['BENCH_PROFILE_DUMP']}-{title}.pstats")
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(
                int(os.environ.get("BENCH_PROFILE_LINES", "25"))
            )
        return 0
    one_process: dict[tuple[int, str], float] = {}
    floor_of: dict[tuple[int, str], float] = {}  # the floor's medians, for its own speed-up beside the poller's
    label = f"{vendor}, own core" if args.pinned else vendor
    for workers in (1, concurrency) if "cycle" in args.sections else ():
        for title, prepare in (("unchanged", lambda: None), ("changed", renamed)):
            # Each row is the median of --repeats cycles, the poller's and the floor's in alternation: one
            # cycle of either moved by 10-20% from run to run on an idle machine, more than some margins.
            tooks, floors = [], []
            for _ in range(args.repeats):
                prepare()
                tooks.append(poller_cycle(poller, workers))
                floors.append(bare_cycle(workers))
            took, floor = statistics.median(tooks), statistics.median(floors)
            one_process[(workers, title)] = took
            floor_of[(workers, title)] = floor
            rows.append(
                (
                    f"{label}: cycle of {n} {title} sources, concurrency {workers}",
                    f"{took:.2f} s ({n / took:.0f} polls/s)",
                    f"{floor:.2f} s ({n / floor:.0f} req/s)",
                    f"{took / floor:.2f}x",
                )
            )
    rows.extend(speedup_rows(label, one_process, floor_of, concurrency))
    if vendor != "sqlite":
        if "processes" in args.sections:
            rows.extend(processes_rows(args, base, one_process))
        print_rows(rows)
        return 0

    # --- 2. scheduling drift with 10% of sources hanging ------------------------------------------
    interval = 5
    drift_sources = min(n, 200)

    def drift_run(hanging_fraction: float, fault: str = "&fault=hang", seconds: float | None = None) -> list[float]:
        Source.objects.all().delete()
        hanging = int(drift_sources * hanging_fraction)
        Source.objects.bulk_create(
            Source(
                team_id=team,
                slug=f"drift-{i:04d}",
                name=f"Drift {i}",
                url=f"{base}/drift-{i:04d}?stats=1" + (fault if i < hanging else ""),
                interval_seconds=interval,
                timeout_seconds=2.0,
            )
            for i in range(drift_sources)
        )
        loop_poller = Poller(
            fetcher=Fetcher(),
            circuit_policy=CircuitPolicy(failure_threshold=10**6, cooldown=timedelta(seconds=60)),
        )
        loop = PollerLoop(
            loop_poller, LocalLeases(), concurrency=max(concurrency, 32), write=lambda line: None, progress_seconds=3600
        )
        thread = threading.Thread(target=loop.run)
        thread.start()
        time.sleep(interval + 1)
        loop.drift.clear()  # the first slot starts every source at once: measure the steady state
        time.sleep(args.drift_seconds if seconds is None else seconds)
        loop.shutdown = True
        thread.join()
        hang_slugs = {f"drift-{i:04d}" for i in range(hanging)}
        return [d for slug, d in loop.drift if slug not in hang_slugs]

    stormy: list[float] = []
    if "drift" in args.sections:
        calm = drift_run(0.0)
        stormy = drift_run(0.1)
        floor_p95, p95_drift = p95(calm), p95(stormy)
        rows.append(
            (
                f"p95 start drift, {drift_sources} sources every {interval}s, 10% hanging 2s",
                f"{p95_drift * 1000:.1f} ms ({len(stormy)} healthy polls)",
                f"{floor_p95 * 1000:.1f} ms (none hanging)",
                f"{p95_drift / floor_p95:.2f}x" if floor_p95 > 0 else "-",
            )
        )

    # --- 3. memory after many polls ---------------------------------------------------------------
    if "memory" in args.sections:
        sources[:] = create_sources()
        rss_warm = process.memory_info().rss
        polls = 0
        while polls < args.memory_polls:
            poller_cycle(poller, concurrency)
            polls += len(sources)
        rss_end = process.memory_info().rss
        rows.append(
            (
                f"resident memory after {polls} more polls",
                f"{rss_end / mib:.0f} MiB",
                f"{rss_warm / mib:.0f} MiB before (process start {rss_start / mib:.0f} MiB)",
                f"{rss_end / rss_warm:.2f}x",
            )
        )

    # --- 4. a cycle answered with gzip ----------------------------------------------------------------
    gzip_query = "stats=1&fault=encoding&coding=gzip"

    def use_sources(make_url: Callable[[int], str]) -> None:
        Source.objects.all().delete()
        Source.objects.bulk_create(
            Source(slug=f"region-{i:04d}", name=f"Region {i}", url=make_url(i), timeout_seconds=5.0, team_id=team)
            for i in range(n)
        )
        sources[:] = list(Source.objects.order_by("slug"))
        urls[:] = [s.url for s in sources]

    if "gzip" in args.sections:
        use_sources(lambda i: f"{base}/region-{i:04d}?{gzip_query}")
        bare_cycle(concurrency)  # warm up
        poller_cycle(poller, concurrency)
        # Interleaved, best of three, like the fetch-only row below: on a shared machine one run of each
        # mostly measures the neighbours. requests decodes gzip itself (Accept-Encoding: gzip by default).
        took, floor = float("inf"), float("inf")
        for _ in range(3):
            took = min(took, poller_cycle(poller, concurrency))
            floor = min(floor, bare_cycle(concurrency))
        fetcher = Fetcher()

        def fetch_only_cycle() -> float:
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as executor:
                results = list(executor.map(lambda url: fetcher.fetch(url), urls))
            if not all(r.ok for r in results):
                raise SystemExit("a gzip fetch failed")
            return time.perf_counter() - started

        fetch_only_cycle()  # warm up
        # Interleaved, best of three: on a shared machine a single run mostly measures the neighbours.
        fetched, fetch_floor = float("inf"), float("inf")
        for _ in range(3):
            fetched = min(fetched, fetch_only_cycle())
            fetch_floor = min(fetch_floor, bare_cycle(concurrency))
        fetcher.close()
        rows.append(
            (
                f"fetch and decode only (no store), {n} gzip answers, concurrency {concurrency}",
                f"{fetched:.2f} s ({n / fetched:.0f} fetches/s)",
                f"{fetch_floor:.2f} s ({n / fetch_floor:.0f} req/s, decoding too)",
                f"{fetched / fetch_floor:.2f}x",
            )
        )
        rows.append(
            (
                f"full cycle of {n} sources answered with gzip, concurrency {concurrency}",
                f"{took:.2f} s ({n / took:.0f} polls/s)",
                f"{floor:.2f} s ({n / floor:.0f} req/s, decoding too)",
                f"{took / floor:.2f}x (target <= 1.3x)",
            )
        )

    # --- 5. a cycle with 10% compression bombs -----------------------------------------------------------
    if "bombs" in args.sections:

        def peak_rss(action: Callable[[], object]) -> int:
            peak = [process.memory_info().rss]
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.005):
                    peak[0] = max(peak[0], process.memory_info().rss)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                action()
            finally:
                stop.set()
                sampler.join()
            return peak[0]

        def tolerant_cycle() -> None:
            poller_cycle(poller, concurrency, tolerated=frozenset({"too_large"}))

        bombs = max(1, n // 10)
        bomb_query = "fault=bomb&coding=gzip&declare=0"
        use_sources(lambda i: f"{base}/region-{i:04d}?{gzip_query}")
        calm_peak = peak_rss(tolerant_cycle)
        use_sources(lambda i: f"{base}/region-{i:04d}?" + (bomb_query if i < bombs else gzip_query))
        tolerant_cycle()  # the simulator builds its bomb once; the first cycle pays for that
        bomb_peak = peak_rss(tolerant_cycle)
        rows.append(
            (
                f"peak resident memory, cycle of {n} sources with {bombs} 1 GiB gzip bombs",
                f"{bomb_peak / mib:.0f} MiB",
                f"{calm_peak / mib:.0f} MiB (no bombs)",
                f"{bomb_peak / calm_peak:.2f}x (target <= 1.5x)",
            )
        )
        calm_drift = drift_run(0.0)
        bomb_drift = drift_run(0.1, fault=f"&{bomb_query}")
        rows.append(
            (
                f"p95 start drift, {drift_sources} sources every {interval}s, 10% gzip bombs",
                f"{p95(bomb_drift) * 1000:.1f} ms ({len(bomb_drift)} healthy polls)",
                f"{p95(calm_drift) * 1000:.1f} ms (no bombs)",
                "target <= 1000 ms",
            )
        )

    print_rows(rows)
    if stormy:
        print(f"\nmedian start drift with hanging sources: {statistics.median(stormy) * 1000:.1f} ms")
    return 0


def processes_rows(
    args: argparse.Namespace, base: str, one_process: dict[tuple[int, str], float]
) -> list[tuple[str, str, str, str]]:
    """Section 6: PROCESSES poller processes, each polling its share of the sources at its share of the
    concurrency, started together; the cycle is over when the last one is done."""
    n, workers = args.sources, max(1, args.concurrency // PROCESSES)
    children = [
        subprocess.Popen(
            [sys.executable, __file__, f"--sources={n}", f"--concurrency={workers}", f"--shard={i}/{PROCESSES}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]

    def ask(line: str) -> None:
        for child in children:
            assert child.stdin is not None
            child.stdin.write(line + "\n")
            child.stdin.flush()
        for child in children:
            assert child.stdout is not None
            answer = child.stdout.readline().strip()
            if answer != "done":
                raise SystemExit(f"a poller process of the processes section failed: {answer or child.wait()}")

    # The floor gets the same second core: PROCESSES processes of bare requests, each with its share of the
    # URLs at its share of the concurrency (spawned, not forked: this process holds pool threads).
    floor_pool = multiprocessing.get_context("spawn").Pool(PROCESSES)

    def split_floor(urls: list[str]) -> float:
        shares = [(urls[i::PROCESSES], workers) for i in range(PROCESSES)]
        started = time.perf_counter()
        floor_pool.starmap(bare_urls_cycle, shares)
        return time.perf_counter() - started

    rows = []
    try:
        split_floor([f"{base}/region-{i:04d}?stats=1" for i in range(n)])  # warm up: spawned, imported, connected
        ask("warm")  # connections, imports, and each child's first records of the current documents
        for title in ("unchanged", "changed"):
            tooks, floors, split_floors = [], [], []
            for repeat in range(args.repeats):
                tag = f"p{repeat}" if title == "changed" else "-"
                started = time.perf_counter()
                ask(f"cycle {tag}")
                tooks.append(time.perf_counter() - started)
                urls = [tagged(f"{base}/region-{i:04d}?stats=1", tag) for i in range(n)]
                floors.append(bare_urls_cycle(urls, args.concurrency))
                split_floors.append(split_floor(urls))
            took, floor, split = statistics.median(tooks), statistics.median(floors), statistics.median(split_floors)
            single = one_process.get((1, title))
            versus = f"; {single / took:.2f}x faster than 1 process at concurrency 1" if single else ""
            rows.append(
                (
                    f"postgresql: cycle of {n} {title} sources, {PROCESSES} processes x concurrency {workers}",
                    f"{took:.2f} s ({n / took:.0f} polls/s)",
                    f"{floor:.2f} s in 1 process x {args.concurrency}, {split:.2f} s in {PROCESSES} x {workers}",
                    f"{took / floor:.2f}x, {took / split:.2f}x{versus}",
                )
            )
    finally:
        floor_pool.terminate()
        for child in children:
            assert child.stdin is not None
            child.stdin.close()  # the end of its commands: the child returns
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
    return rows


def tagged(url: str, tag: str) -> str:
    """A simulator source URL at the region name with ``-<tag>`` added (a new document); "" or "-" keep it."""
    return url if tag in ("", "-") else url.replace("?", f"-{tag}?", 1)


def bare_urls_cycle(urls: list[str], workers: int) -> float:
    """The floor: bare ``requests`` + ``json`` over ``urls`` at ``workers`` threads, one session per thread."""
    import requests

    local = threading.local()

    def fetch(url: str) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        session.get(url, timeout=(3, 5)).json()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as executor:
        list(executor.map(fetch, urls))
    return time.perf_counter() - started


def shard_child(args: argparse.Namespace) -> int:
    """A poller process of section 6: its share of the sources (every k-th by slug), polled as the poll
    command polls them, one cycle per line on stdin ("warm", or "cycle <tag>": "-" for the sources' own
    URLs, else a new region name each), answering "done" after each; it returns at the end of stdin."""
    import django

    django.setup()
    from devops_insights.collector import POLLER as POLLER_COLLECTOR
    from devops_insights.collector import settle as settle_collector
    from pollers.circuit import CircuitPolicy
    from pollers.engine import Poller
    from pollers.fetch import Fetcher
    from pollers.health_batch import HealthBatch
    from pollers.models import Source
    from pollers.workers import poll_and_hand_back
    from pollers.workers import pool as worker_pool

    index, count = (int(part) for part in args.shard.split("/"))
    mine = [s for i, s in enumerate(Source.objects.order_by("slug")) if i % count == index]
    original = {s.pk: s.url for s in mine}
    poller = Poller(fetcher=Fetcher(), circuit_policy=CircuitPolicy.from_settings(), health_batch=HealthBatch())
    settle_collector(POLLER_COLLECTOR)  # as the poll command does before its first poll

    with worker_pool(args.concurrency) as executor:  # for the child's life, as a poller process keeps its own
        for line in sys.stdin:
            _command, _, tag = line.strip().partition(" ")
            for source in mine:
                source.url = tagged(original[source.pk], tag)
            outcomes = list(executor.map(partial(poll_and_hand_back, poller), mine))
            poller.flush_health()
            failed = [o for o in outcomes if not o.ok]
            print(f"failed {len(failed)}" if failed else "done", flush=True)
    return 0


def speedup_rows(
    label: str,
    one_process: dict[tuple[int, str], float],
    floor_of: dict[tuple[int, str], float],
    concurrency: int,
) -> list[tuple[str, str, str, str]]:
    """How much faster the cycles polled at ``concurrency`` than at 1 (the poller against itself), beside the same
    speed-up of the floor: where the host's cores bound both (the simulator and the database share them), the
    floor's own speed-up is what any client could get from the same threads there."""
    rows = []
    for title in ("unchanged", "changed"):
        one, many = one_process.get((1, title)), one_process.get((concurrency, title))
        floor_one, floor_many = floor_of.get((1, title)), floor_of.get((concurrency, title))
        if one and many and floor_one and floor_many and concurrency != 1:
            rows.append(
                (
                    f"{label}: {title} cycle, speed-up of concurrency {concurrency} over concurrency 1",
                    f"{many:.2f} s ({one:.2f} s at concurrency 1)",
                    f"{floor_one / floor_many:.2f}x ({floor_many:.2f} s, {floor_one:.2f} s at 1)",
                    f"{one / many:.2f}x (target >= 1.5x)",
                )
            )
    return rows


def print_rows(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("measure", "poller", "floor", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"CPU cores: {os.cpu_count()}")


if __name__ == "__main__":
    raise SystemExit(main())
