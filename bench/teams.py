"""Teams: the overview page and ``GET /api/v1/sources`` for a viewer of one team, as the number of teams grows.

One database, grown in steps, measured in the same run: first a single team of ``SOURCES`` sources (the floor:
what the viewer sees and nothing else), then ``TEAMS`` teams of ``SOURCES`` sources each (the viewer still a
member of the first only), with every source's latest snapshot stored. For each step the bench prints the
number of SQL statements per request (it must not change with the number of teams) and the median time, as a
ratio to the single-team floor (the target is at most 1.2). Runs on a throwaway SQLite database, through the
test client (the overview is measured as a page, without touching dashboard code). Before each step the viewer's
sources are polled again (unchanged content, as a running poller would), so their cards are as fresh in every
step: otherwise the later steps, minutes after the first, would render stale cards, other markup than the floor's.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEAMS = int(os.environ.get("BENCH_TEAMS", "50"))
SOURCES = int(os.environ.get("BENCH_TEAM_SOURCES", "100"))
REPEAT = int(os.environ.get("BENCH_TEAMS_REPEAT", "15"))
TARGET = 1.2
PATHS = {"overview": "/", "GET /api/v1/sources": "/api/v1/sources"}


def setup() -> Any:
    sys.path.insert(0, str(ROOT))
    work = tempfile.mkdtemp(prefix="bench-teams-")
    os.environ.update(
        {
            "VAR_DIR": work,
            "DJANGO_SETTINGS_MODULE": "devops_insights.settings",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "RATELIMIT_ENABLE": "false",
            "LOG_LEVEL": "warning",
            "REQUIRE_MFA_FOR_STAFF": "false",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL", "MONGODB_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.signals import request_started
    from django.db import reset_queries

    call_command("migrate", verbosity=0)
    # Django empties the query log when a request starts; the bench counts one request's statements.
    request_started.disconnect(reset_queries)


def add_team(index: int, snapshot_at: datetime) -> Any:
    from accounts.models import Team
    from pollers.models import Source

    team = Team.objects.create(slug=f"team-{index:02d}", name=f"Team {index:02d}")
    # bulk_create: the audit trail's signals are for people's changes, not for seeding a benchmark.
    sources = Source.objects.bulk_create(
        Source(
            slug=f"t{index:02d}-s{n:03d}",
            name=f"T{index:02d} S{n:03d}",
            url=f"http://127.0.0.1:9/status/t{index}/{n}",
            region=f"region-{n % 5}",
            team=team,
        )
        for n in range(SOURCES)
    )
    poll(sources, snapshot_at)
    return team


def poll(sources: list[Any], at: datetime) -> None:
    """Store each source's payload fetched at ``at`` (the same payload every time: a change only on the first)."""
    from metrics.stores import get_store

    store = get_store()
    for n, source in enumerate(sources):
        body = {"status": "ok", "results": {"stats": {"online": n, "server": {"cpu_load": n % 90 + 0.5}}}}
        store.record(source.spec(), body, at)


def measure(client: Any, path: str) -> tuple[int, float, int, float]:
    """(SQL statements of one request, median seconds over REPEAT, size of the answer, median CPU seconds).

    The CPU time (this process's, so the SQLite queries' too) is printed beside the wall time: on a shared
    machine other processes stretch the wall time of one step and not another, the CPU time much less.
    """
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm-up: first-request caches are not what is measured
    reset_queries()  # the log is bounded: counting a request by its growth needs room in it
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    times, cpu = [], []
    for _ in range(REPEAT):
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(path)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return len(queries), statistics.median(times), len(response.content), statistics.median(cpu)


def main() -> int:
    setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    from accounts.models import Membership
    from pollers.models import Source

    at = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    first = add_team(0, at)
    viewer = get_user_model().objects.create_user("viewer")
    Membership.objects.create(user=viewer, team=first, role="viewer")
    client = Client()
    client.force_login(viewer)

    results: dict[int, dict[str, tuple[int, float, int, float]]] = {}
    steps = sorted({1, max(2, TEAMS // 5), TEAMS})
    teams = 1
    for step in steps:
        while teams < step:
            add_team(teams, at)
            teams += 1
        poll(list(Source.objects.filter(team=first).order_by("slug")), datetime.now(UTC))
        cache.clear()  # each step reads the same way: no read cache carried over from the previous one
        results[step] = {name: measure(client, path) for name, path in PATHS.items()}
    print(f"setup and runs: {time.perf_counter() - started:.1f} s; {SOURCES} sources per team, median of {REPEAT}")
    print(
        f"\n{'request':<22} {'teams':>6} {'sources':>8} {'queries':>8} {'ms':>8} {'x floor':>8} {'bytes':>10}"
        f" {'cpu ms':>8} {'cpu x':>6}"
    )
    verdicts = []
    counts_stable = True
    for name in PATHS:
        floor_queries, floor_time, _, floor_cpu = results[1][name]
        for step in steps:
            queries, elapsed, size, cpu = results[step][name]
            ratio = elapsed / floor_time
            if step == TEAMS:
                verdicts.append(f"{name}: {ratio:.2f} ({'within' if ratio <= TARGET else 'OVER'} {TARGET})")
            counts_stable &= queries == floor_queries
            print(
                f"{name:<22} {step:>6} {step * SOURCES:>8} {queries:>8} {elapsed * 1000:8.1f} {ratio:8.2f} {size:>10,}"
                f" {cpu * 1000:8.1f} {cpu / floor_cpu:6.2f}"
            )
    print(f"\nquery count independent of the number of teams: {'yes' if counts_stable else 'NO'}")
    print(f"time at {TEAMS} teams / a single team: " + "; ".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
