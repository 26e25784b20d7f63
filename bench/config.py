"""Configuration as code benchmark: plan and apply of 1,000 sources and 2,000 alert rules.

The floor, measured in the same run on the same database, is the plain ORM ``bulk_create`` of the same rows
(1,000 sources, 2,000 rules) in one transaction. Targets (docs/config-as-code.md): a plan of the files
against an empty database at most 3x the floor, an apply (plan included) at most 5x. And a plan that finds
nothing to change issues the same number of queries for 100 sources as for 1,000 (both printed).

Runs on SQLite (a temporary file) and on PostgreSQL when reachable (a temporary database, created and
dropped). Environment: BENCH_DATABASE_URL (PostgreSQL server, default TEST_DATABASE_URL or the local one).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._setup import run_per_backend  # noqa: E402 - needs ROOT on the path

SOURCES = 1000
RULES_PER_SOURCE = 2
PLAN_LIMIT, APPLY_LIMIT = 3.0, 5.0


def files_for(count: int) -> dict[str, str]:
    sources = ["sources:"]
    rules = ["alert_rules:"]
    for i in range(count):
        slug = f"s{i:04d}"
        sources += [
            f"  - slug: {slug}",
            f"    name: Source {i}",
            f"    url: http://127.0.0.1:9/status/{slug}?stats=1",
            f"    region: r{i % 6}",
            "    tags: [bench]",
        ]
        rules += [
            f"  - name: {slug} cpu",
            f"    source: {slug}",
            "    metric: cpu_load",
            "    operator: '>'",
            "    threshold: 85",
            f"  - name: {slug} failing",
            f"    source: {slug}",
            "    kind: poll_failures",
            "    count: 3",
        ]
    return {"sources.yaml": "\n".join(sources) + "\n", "alert_rules.yaml": "\n".join(rules) + "\n"}


def child() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_insights.settings")
    os.environ["POLLER_ALLOWED_PRIVATE_HOSTS"] = "127.0.0.1"
    os.environ.setdefault("LOG_LEVEL", "warning")  # an audit line per created or deleted object would bury the table
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.teams import default_team
    from alerts.models import AlertRule
    from pollers.models import Source
    from provisioning.apply import apply_files
    from provisioning.plan import make_plan

    call_command("migrate", verbosity=0)
    team = default_team()

    def wipe() -> None:
        # One transaction: the audit trail records every deleted row, which autocommit would commit one by one
        # (not measured, but it made the bench's set-up take longer than the measurements).
        with transaction.atomic():
            AlertRule.objects.all().delete()
            Source.objects.all().delete()

    def floor() -> float:
        began = time.perf_counter()
        with transaction.atomic():
            sources = Source.objects.bulk_create(
                [
                    Source(
                        slug=f"s{i:04d}",
                        team=team,
                        name=f"Source {i}",
                        url=f"http://127.0.0.1:9/status/s{i:04d}",
                        region=f"r{i % 6}",
                        tags=["bench"],
                    )
                    for i in range(SOURCES)
                ]
            )
            AlertRule.objects.bulk_create(
                [
                    rule
                    for source in sources
                    for rule in (
                        AlertRule(
                            team=team,
                            name=f"{source.slug} cpu",
                            scope="source",
                            source=source,
                            metric="cpu_load",
                            operator=">",
                            threshold=85,
                        ),
                        AlertRule(
                            team=team,
                            name=f"{source.slug} failing",
                            scope="source",
                            source=source,
                            kind="poll_failures",
                            count=3,
                        ),
                    )
                ]
            )
        spent = time.perf_counter() - began
        wipe()
        return spent

    def timed(run: Any) -> float:
        began = time.perf_counter()
        run()
        return time.perf_counter() - began

    statements = [0]

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    def unchanged_plan_queries(count: int) -> int:
        files = files_for(count)
        apply_files(files)
        statements[0] = 0
        with connection.execute_wrapper(counted):
            plan = make_plan(files)
        assert not plan.has_changes
        wipe()
        return statements[0]

    files = files_for(SOURCES)
    floor()  # warm-up
    base = min(floor() for _ in range(3))
    plan_time = min(timed(lambda: make_plan(files)) for _ in range(2))

    def apply_once() -> float:
        wipe()
        return timed(lambda: apply_files(files))

    apply_time = min(apply_once() for _ in range(2))
    unchanged = min(timed(lambda: make_plan(files)) for _ in range(2))
    wipe()
    small, large = unchanged_plan_queries(100), unchanged_plan_queries(SOURCES)

    vendor = connection.vendor
    rows = (
        ("floor: bulk_create", base, None),
        ("plan (empty database)", plan_time, PLAN_LIMIT),
        ("apply (plan included)", apply_time, APPLY_LIMIT),
        ("plan, nothing to change", unchanged, None),
    )
    for name, value, limit in rows:
        verdict = "" if limit is None else ("  ok" if value / base <= limit else f"  OVER {limit:.0f}x")
        print(f"{vendor:<10} {name:<26} {value * 1e3:>9.1f} ms {value / base:>7.2f}x floor{verdict}")
    print(f"{vendor:<10} no-change plan queries: {small} for 100 sources, {large} for {SOURCES} sources")
    if small != large:
        raise SystemExit("the no-change plan's query count grows with the number of objects")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
        return 0
    print(f"config as code, {SOURCES} sources and {SOURCES * RULES_PER_SOURCE} rules")
    return run_per_backend(__file__, "config")


if __name__ == "__main__":
    raise SystemExit(main())
