"""Objective rule evaluation benchmark: what SLO (burn-rate) and anomaly rules cost per poll, beside the
threshold rules they are held to (at most 2x in every minute), for 1,000 sources polled once a minute.

Setup, poll driving and the SELECT 1 floor are bench/alerts.py's (reused, not copied). Every source has
two hours of availability counts around the measured hour (so the burn-rate reads have rows to add up)
and the hourly ``wait_time`` rollups the anomaly rule scores: the last hour and the same hour of the
week in each of the 4 weeks before. Scenarios, each over the same 1,000 sources polled once:

- threshold: two metric threshold rules (the floor this issue is held to), measured before and after
  the objective minutes (their mean is the figure every ratio is taken against);
- slo+anomaly, minute M of the hour: a burn-rate rule on an objective covering every source and a
  seasonal anomaly rule, polled minute after minute as a poller would. Minutes 0 to N - 1 each judge
  the previous hour of the sources of their slot (``alerts.anomaly_spread``, N =
  ALERTS_ANOMALY_SPREAD_MINUTES: about 1/N of them, one read each minute); minute N and minute 30 are
  steady (the hour judged); minute 59 is steady too, with the burn-rate windows' hour edge. Every minute
  includes the burn-rate rule's once-a-minute read of the settled windows of every covered source
  (alerts.burn_windows) besides each poll's read of its last two minutes.

Printed per backend: each measured minute, the worst of them, and the average over an hour (the
minutes not measured count as the mean of the steady minutes N and 30). Runs on SQLite and on
PostgreSQL when reachable, like bench/alerts.py (BENCH_DATABASE_URL: the PostgreSQL server).
"""

from __future__ import annotations

import argparse
import os
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
    from alerts.anomaly_spread import spread_minutes
    from alerts.models import AlertRule
    from metrics.rollups import RollupBucket
    from metrics.stores import get_store
    from metrics.stores.base import RecordResult
    from objectives.attainment import rollup_reader
    from objectives.models import Objective
    from pollers.models import Source
    from pollers.outcome import PollOutcome

    # Ahead, as in bench/alerts.py: evaluation takes silences at the poll's own time, current ones from memory.
    # The measured hour begins 1 to 2 hours from now, so all its minutes stay ahead however long the setup takes.
    hour_start = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    team = default_team_id()  # bulk_create skips save(), which fills in the default team
    sources = Source.objects.bulk_create(
        [
            Source(slug=f"s{i}", name=f"s{i}", url=f"http://127.0.0.1/{i}", tags=["bench"], team_id=team)
            for i in range(SOURCES)
        ]
    )
    store = get_store()
    last_hour = hour_start - timedelta(hours=1)
    rollups = []
    for source in sources:
        for minute in range(-60, 60, 6):  # every 6 minutes over the hour before and the measured hour
            store.record_poll_outcome(source.slug, hour_start + timedelta(minutes=minute), True, 40.0)
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

    def polls(minute: int, second: int = 1) -> list[tuple[Any, PollOutcome]]:
        metrics = {"cpu_load": 40.0, "wait_time": 60.0}
        record = RecordResult(changed=True, hash="h", metrics=metrics, sequence=1, diff=[])
        at = hour_start + timedelta(minutes=minute, seconds=second)
        return [
            (s, PollOutcome(source=s.slug, poll_id=f"{minute}-{second}-{s.pk}", started_at=at, ok=True, record=record))
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
    spread = spread_minutes()
    steady_minutes = (spread, 30)
    minutes = sorted({*range(spread), *steady_minutes, 59})

    base = select_one_floor()
    only(*thresholds)
    run_polls(polls(30, 0)[:50])  # warm-up: the rule snapshot
    threshold_before, threshold_statements = run_polls(polls(30))
    only(burn, odd)
    measured.forget()
    measured_minutes = {minute: run_polls(polls(minute)) for minute in minutes}
    only(*thresholds)
    run_polls(polls(31, 0)[:50])
    threshold_after, _ = run_polls(polls(31))
    threshold = (threshold_before + threshold_after) / 2

    def row(name: str, value: float, per_poll: float, versus: str = "") -> None:
        print(
            f"{connection.vendor:<10} {name:<22} {value * 1e3:>8.3f} ms/poll {value / base:>7.1f}x floor"
            f" {per_poll:>5.2f} statements/poll{versus}"
        )

    row("floor: SELECT 1", base, 1.0)
    row("threshold x2", threshold, threshold_statements, f" (before {threshold_before / threshold_after:.2f}x after)")
    for minute, (value, per_poll) in measured_minutes.items():
        kind = "judging 1/N" if minute < spread else "steady"
        row(f"slo+anomaly, min {minute:>2}", value, per_poll, f" {value / threshold:>6.2f}x threshold ({kind})")
    worst = max(measured_minutes, key=lambda minute: measured_minutes[minute][0])
    steady = sum(measured_minutes[minute][0] for minute in steady_minutes) / len(steady_minutes)
    hour = sum(measured_minutes[m][0] if m in measured_minutes else steady for m in range(60)) / 60
    print(
        f"{connection.vendor:<10} {'slo+anomaly, worst':<22} {measured_minutes[worst][0] / threshold:>8.2f}x threshold"
        f" (minute {worst} of the hour; target <= 2 in every minute; spread over N = {spread} minutes)"
    )
    print(
        f"{connection.vendor:<10} {'slo+anomaly, per minute':<22} {hour / threshold:>8.2f}x threshold"
        " (averaged over an hour)"
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--spread",
        type=int,
        metavar="N",
        help="ALERTS_ANOMALY_SPREAD_MINUTES for this run (default: the environment's, else the setting's default)",
    )
    args = parser.parse_args()
    if args.spread is not None:
        os.environ["ALERTS_ANOMALY_SPREAD_MINUTES"] = str(args.spread)
    print(f"objective rules (burn rate + anomaly) vs threshold rules, {SOURCES} sources polled once a minute")
    return run_per_backend(__file__, "objectives")


if __name__ == "__main__":
    raise SystemExit(main())
