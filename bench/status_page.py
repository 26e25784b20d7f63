"""Status page under load: a public page of 20 components with 90-day bars, against a constant Django view.

One daphne process on PostgreSQL and Redis serves BENCH_LOAD_CLIENTS (200) concurrent keep-alive clients
from this process (the load generator, bench/load.py's ``hammer``) for BENCH_LOAD_SECONDS (30) per
scenario. The floor, in the same run on the same process and middleware, is a constant Django view
answering as many bytes as the page (bench/_status_page_urls.py). Scenarios, cache warm: every public
answer of the page (``ENDPOINTS``: the page, ``state.json``, the Statuspage v2 JSON, the feeds, the badges
by slug and by key). Targets: the page's throughput at least 0.5x the floor's, and no scenario answering
a 5xx or any status but 200 (a public endpoint must hold under load: statuspages/answers.py, busy.py).

Before the load, in a separate process on the same database: one **cold** render of the page (every
page cache generation bumped, statuspages/generations.py) counting database queries (models and the SQL
metric store) and metric store calls; target at most 10 round trips. Then a warm render, for contrast,
and each endpoint's warm answer counting database queries: target none (a warm answer takes no pooled
connection, so the pool cannot run dry however many clients wait).

Environment: BENCH_DATABASE_URL (PostgreSQL server, default TEST_DATABASE_URL or the local one; a temporary
database is created and dropped), BENCH_REDIS_URL (default TEST_REDIS_URL; keys under a unique prefix),
BENCH_LOAD_CLIENTS, BENCH_LOAD_SECONDS, BENCH_LOAD_POOL (default 8).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _setup import ROOT, TemporaryDatabase, manage, temporary_postgres  # noqa: E402
from _setup import redis_url as bench_redis_url  # noqa: E402
from load import CLIENTS, POOL, SECONDS, hammer  # noqa: E402

COMPONENTS = 20
DAYS = 90
THRESHOLD = 0.5
MAX_COLD_ROUND_TRIPS = 10

# Every public answer of the page; {key} is a component's badge key, {pk} its id.
ENDPOINTS = (
    ("status page (public, warm)", "/status/bench/"),
    ("state.json", "/status/bench/state.json"),
    ("api/v2/summary.json", "/status/bench/api/v2/summary.json"),
    ("api/v2/status.json", "/status/bench/api/v2/status.json"),
    ("api/v2/incidents.json", "/status/bench/api/v2/incidents.json"),
    ("feed.atom", "/status/bench/feed.atom"),
    ("feed.json", "/status/bench/feed.json"),
    ("page badge", "/status/bench/badge.svg"),
    ("badge by slug (status)", "/status/bench/badges/{pk}/status.svg"),
    ("badge by key (status)", "/status/badges/{key}/status.svg"),
    ("badge by key (uptime 30d)", "/status/badges/{key}/uptime-30d.svg"),
)

SETUP = """
from datetime import UTC, datetime, timedelta
import random
from django.test import Client
from django.utils import timezone
from accounts.models import Team
from metrics.availability import bucket_start
from metrics.stores import get_store
from metrics.stores.base import PollSample
from pollers.models import Source
from statuspages.models import Component, Incident, IncidentUpdate, MaintenanceWindow, StatusPage
store = get_store()
now = timezone.now()
rng = random.Random(18)
team = Team.objects.create(slug="bench", name="Bench")
page = StatusPage.objects.create(team=team, slug="bench", title="Bench status", published=True,
                                 description="Twenty **components**, ninety days.")
since = bucket_start(now - timedelta(days=DAYS - 1), "1d")
keys, pks = [], []
for n in range(COMPONENTS):
    source = Source.objects.create(slug=f"bench-{n:02d}", name=f"Bench {n}", url=f"http://127.0.0.1:9/{n}",
                                   team=team, last_polled_at=now, last_success_at=now)
    component = Component.objects.create(page=page, name=f"Service {n:02d}", order=n)
    component.sources.set([source])
    keys.append(component.badge_key)
    pks.append(component.pk)
    samples, at = [], since
    while at < now - timedelta(minutes=5):
        up = rng.random() > 0.004
        samples.append(PollSample(at, up, rng.lognormvariate(4.5, 0.5) if up else None, "" if up else "timeout"))
        at += timedelta(hours=1)
    store.replace_backfilled_availability(source.slug, since, samples)
incident = Incident.objects.create(page=page, title="Elevated latency", impact="minor", status="monitoring",
                                   started_at=now - timedelta(hours=2))
for i, status in enumerate(("investigating", "identified", "monitoring")):
    IncidentUpdate.objects.create(incident=incident, status=status, body=f"Update *{i}*.",
                                  created_at=now - timedelta(hours=2) + timedelta(minutes=20 * i))
incident.components.set(page.components.all()[:3])
window = MaintenanceWindow.objects.create(page=page, title="Upgrade", starts_at=now + timedelta(days=1),
                                          ends_at=now + timedelta(days=1, hours=2))

# One cold render, counted: page caches cold, then every database query and metric store call.
from django.db import connection
from django.test.utils import CaptureQueriesContext
from metrics.stores.instrumented import InstrumentedStore
from statuspages import generations
calls = []
measured = InstrumentedStore._measured
def counting(self, operation, **attributes):
    calls.append(operation)
    return measured(self, operation, **attributes)
InstrumentedStore._measured = counting
generations.bump(generations.PAGES, generations.HEALTH, generations.page_scope(page.pk))
client = Client(HTTP_HOST="127.0.0.1")
with CaptureQueriesContext(connection) as cold:
    response = client.get("/status/bench/")
assert response.status_code == 200, response.status_code
print("bytes", len(response.content))
print("bars", response.content.count(b'class="sp-bar sp-bar-'))
print("cold_queries", len(cold.captured_queries))
print("cold_store_calls", len(calls), ",".join(calls) or "-")
calls.clear()
with CaptureQueriesContext(connection) as warm:
    assert client.get("/status/bench/").status_code == 200
print("warm_queries", len(warm.captured_queries))
print("warm_store_calls", len(calls))
print("badge_key", keys[0])
print("badge_pk", pks[0])
# Each endpoint once to warm it, then warm, counted: a warm answer takes no database connection.
for index, path in enumerate(ENDPOINT_PATHS):
    url = path.format(key=keys[0], pk=pks[0])
    assert client.get(url).status_code == 200, url
    with CaptureQueriesContext(connection) as warm:
        assert client.get(url).status_code == 200, url
    print(f"warm_endpoint_{index}", len(warm.captured_queries))
"""


def main() -> int:
    with temporary_postgres("status") as database:
        if database is None:
            return 0
        return run(database)


def run(database: TemporaryDatabase) -> int:
    import redis

    from tests.services import free_port, wait_for_port

    redis_url = bench_redis_url()
    work = tempfile.mkdtemp(prefix="bench-status-")
    cache_prefix = f"benchstatus{uuid.uuid4().hex[:6]}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_", "REALTIME_", "POLLER_", "CACHE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="_status_page_settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        VAR_DIR=work,
        DATABASE_URL=database.url,
        DATABASE_POOL_MIN_SIZE="2",
        DATABASE_POOL_MAX_SIZE=str(POOL),
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=cache_prefix,
        # Every client is 127.0.0.1 here: the per-IP limits would measure refusals, not pages.
        STATUS_PAGE_RATE_LIMIT_IP="100000000/m",
        API_RATE_LIMIT_IP="100000000/m",
        LOG_LEVEL="warning",
    )
    daphne: subprocess.Popen[bytes] | None = None
    passed = True
    try:
        manage(env, "migrate", "--noinput")
        script = (
            SETUP.replace("COMPONENTS", str(COMPONENTS))
            .replace("DAYS", str(DAYS))
            .replace("ENDPOINT_PATHS", repr([path for _, path in ENDPOINTS]))
        )
        out = dict(
            line.split(" ", 1)
            for line in manage(env, "shell", "--no-imports", "-c", script).splitlines()
            if " " in line
        )
        cold_queries, cold_calls = int(out["cold_queries"]), out["cold_store_calls"]
        print(f"page: {COMPONENTS} components, {out['bars']} day bars, {out['bytes']} bytes")
        print(
            f"cold render: {cold_queries} database queries (models and SQL metric store), "
            f"metric store calls: {cold_calls}; warm render: {out['warm_queries']} queries, "
            f"{out['warm_store_calls']} store calls"
        )
        if cold_queries > MAX_COLD_ROUND_TRIPS:
            print(f"FAIL: cold render took {cold_queries} round trips (> {MAX_COLD_ROUND_TRIPS})")
            passed = False
        warm_queries = {title: int(out[f"warm_endpoint_{i}"]) for i, (title, _) in enumerate(ENDPOINTS)}
        print("warm answers, database queries: " + ", ".join(f"{t} {n}" for t, n in warm_queries.items()))
        if any(warm_queries.values()):
            print("FAIL: a warm public answer queried the database")
            passed = False
        env["BENCH_CONSTANT_BYTES"] = out["bytes"]

        port = free_port()
        log = (Path(work) / "daphne.log").open("ab")
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "devops_insights.asgi:application"]
        daphne = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        if not wait_for_port("127.0.0.1", port, timeout=60, proc=daphne):
            raise SystemExit("daphne did not start")
        base_url = f"http://127.0.0.1:{port}"
        scenarios = [
            ("floor: constant Django view", "/bench/constant/"),
            *((title, path.format(key=out["badge_key"], pk=out["badge_pk"])) for title, path in ENDPOINTS),
        ]
        asyncio.run(hammer(base_url, [(path, {}) for _, path in scenarios], min(3.0, SECONDS)))  # warm-up
        print(f"one daphne process, pool {POOL}, {CLIENTS} concurrent clients, {SECONDS:g} s per scenario")
        columns = ("requests", "5xx", "other", "req/s", "x floor", "p50 ms", "p99 ms")
        widths = (9, 5, 6, 8, 8, 8, 8)
        print(f"{'scenario':<30} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
        floor_rate = 0.0
        for title, path in scenarios:
            tally = asyncio.run(hammer(base_url, [(path, {})], SECONDS))
            latencies = sorted(tally.latencies)
            rate = len(latencies) / SECONDS
            floor_rate = floor_rate or rate
            ratio = rate / floor_rate if floor_rate else 0.0
            p50 = latencies[len(latencies) // 2] * 1e3 if latencies else float("nan")
            p99 = latencies[int(len(latencies) * 0.99)] * 1e3 if latencies else float("nan")
            print(
                f"{title:<30} {len(latencies):>9} {tally.server_errors:>5} {tally.other + tally.failures:>6} "
                f"{rate:>8.1f} {ratio:>8.2f} {p50:>8.1f} {p99:>8.1f}"
            )
            if title.startswith("status page") and ratio < THRESHOLD:
                print(f"FAIL: the page served {ratio:.2f}x the floor (target >= {THRESHOLD})")
                passed = False
            if tally.server_errors or tally.other:
                print(f"FAIL: {title} answered {tally.server_errors} 5xx and {tally.other} other non-200")
                passed = False
    finally:
        if daphne is not None:
            daphne.terminate()
            try:
                daphne.wait(30)
            except subprocess.TimeoutExpired:
                daphne.kill()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{cache_prefix}*"):
            client.delete(key)
    print("status_page:", "ok" if passed else "FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
