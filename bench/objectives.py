"""Objective rule evaluation benchmark: what SLO (burn-rate) and anomaly rules cost per poll, beside the
threshold rules they are held to (at most 2x), for 1,000 sources polled once each (a minute of polling).

Setup, poll driving and the SELECT 1 floor are bench/alerts.py's (reused, not copied). Every source has
an hour of availability counts (so the burn-rate read has rows to add up) and the hourly ``wait_time``
rollups the anomaly rule scores: the last hour and the same hour of the week in each of the 4 weeks
before. Scenarios, each over the same 1,000 polls:

- threshold: two metric threshold rules (the floor this issue is held to);
- slo+anomaly, first minute of the hour: a burn-rate rule on an objective covering every source and a
  seasonal anomaly rule judging the hour (its once-an-hour read of every covered source's scored hours);
- slo+anomaly, any other minute: the same rules in the next minute, the hour already judged (what 59
  minutes in 60 cost). Each of the two minutes includes the burn-rate rule's once-a-minute read of the
  settled windows of every covered source (alerts.burn_windows) besides each poll's read of its last
  two minutes.

Runs on SQLite and on PostgreSQL when reachable, like bench/alerts.py.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import run_per_backend
from bench.alerts import run_polls, select_one_floor, setup_django

SOURCES = 1000
HOURS_OF_HISTORY = 4 * 168


def child() -> None:
    setup_django()
    from django.db import connection

    from accounts.models import default_team_id
    from alerts import measured
    from alerts.models import AlertRule
    from metrics.rollups import RollupBucket
    from metrics.stores import get_store
    from metrics.stores.base import RecordResult
    from objectives.attainment import rollup_reader
    from objectives.models import Objective
    from pollers.models import Source
    from pollers.outcome import PollOutcome

    # Ahead (30 to 90 minutes), as in bench/alerts.py: evaluation takes silences at the poll's own time, current
    # ones from memory. Half past an hour, so the scenarios' minutes (below) never cross into the next hour.
    now = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=30, second=0, microsecond=0)
    team = default_team_id()  # bulk_create skips save(), which fills in the default team
    sources = Source.objects.bulk_create(
        [
            Source(slug=f"s{i}", name=f"s{i}", url=f"http://127.0.0.1/{i}", tags=["bench"], team_id=team)
            for i in range(SOURCES)
        ]
    )
    store = get_store()
    last_hour = now.replace(minute=0) - timedelta(hours=1)
    rollups = []
    for source in sources:
        for minute in range(0, 60, 6):
            store.record_poll_outcome(source.slug, now - timedelta(minutes=minute), True, 40.0)
        for k in range(0, HOURS_OF_HISTORY + 1, 168):
            start = last_hour - timedelta(hours=k)
            rollups.append(RollupBucket(source.slug, "wait_time", "1h", start, 60, 55.0, 70.0, 3600.0, 60.0, start))
    rollup_reader(store).write_rollups(rollups)
    if connection.vendor == "postgresql":
        # A running system's tables have planner statistics (autovacuum analyzes them as they grow). These rows
        # are seconds old: without statistics PostgreSQL reads one source's cells through the pruning index
        # (tier, start), filtering out every other source's, and the figures would measure that, not the rules.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def polls(offset: int) -> list[tuple[Any, PollOutcome]]:
        metrics = {"cpu_load": 40.0, "wait_time": 60.0}
        record = RecordResult(changed=True, hash="h", metrics=metrics, sequence=1, diff=[])
        at = now + timedelta(seconds=offset)
        return [
            (s, PollOutcome(source=s.slug, poll_id=f"{offset}-{s.pk}", started_at=at, ok=True, record=record))
            for s in sources
        ]

    def only(*rules: AlertRule) -> None:
        AlertRule.objects.exclude(pk__in=[r.pk for r in rules]).update(enabled=False)
        AlertRule.objects.filter(pk__in=[r.pk for r in rules]).update(enabled=True)
        from alerts import rule_cache

        rule_cache.bump()

    thresholds = [
        AlertRule.objects.create(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85),
        AlertRule.objects.create(name="wait", kind="metric", metric="wait_time", operator=">", threshold=2000),
    ]
    objective = Objective.objects.create(name="all up", tag="bench", target="99.9")
    burn = AlertRule.objects.create(name="burn", kind="burn_rate", objective=objective)
    odd = AlertRule.objects.create(name="odd", kind="anomaly", metric="wait_time", anomaly_mode="seasonal")

    base = select_one_floor()
    only(*thresholds)
    run_polls(polls(0)[:50])  # warm-up: the rule snapshot
    threshold, threshold_statements = run_polls(polls(1))
    only(burn, odd)
    measured.forget()
    first, first_statements = run_polls(polls(2))
    steady, steady_statements = run_polls(polls(63))  # the next minute: its once-a-minute burn-rate read included
    rows = (
        ("floor: SELECT 1", base, 1.0, None),
        ("threshold x2", threshold, threshold_statements, None),
        ("slo+anomaly, hour's 1st", first, first_statements, first / threshold),
        ("slo+anomaly, steady", steady, steady_statements, steady / threshold),
    )
    for name, value, per_poll, against in rows:
        versus = "" if against is None else f" {against:>6.2f}x threshold (target <= 2)"
        print(
            f"{connection.vendor:<10} {name:<24} {value * 1e3:>8.3f} ms/poll {value / base:>7.1f}x floor"
            f" {per_poll:>5.2f} statements/poll{versus}"
        )
    minute = (first + 59 * steady) / 60
    print(
        f"{connection.vendor:<10} {'slo+anomaly, per minute':<24} {minute / threshold:>8.2f}x threshold"
        " (averaged over an hour)"
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
        return 0
    print(f"objective rules (burn rate + anomaly) vs threshold rules, {SOURCES} sources polled once each")
    return run_per_backend(__file__, "objectives")


if __name__ == "__main__":
    raise SystemExit(main())
