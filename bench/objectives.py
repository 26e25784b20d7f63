"""Objective rule evaluation benchmark: what SLO (burn-rate) and anomaly rules cost per poll, beside the
threshold rules they are held to (at most 2x in every minute), for 1,000 sources polled once a minute.

Setup, poll driving and the SELECT 1 floor are bench/alerts.py's (reused, not copied). Every source has
two hours of availability counts around the measured hour (so the burn-rate reads have rows to add up)
and the hourly ``wait_time`` rollups the anomaly rule scores: the last hour and the same hour of the
week in each of the 4 weeks before. Scenarios, each over the same 1,000 sources polled once:

- threshold: two metric threshold rules (the floor this issue is held to), run between the objective
  minutes (interleaved, so other work on the machine slows both sides alike);
- slo+anomaly, minute M of the hour: a burn-rate rule on an objective covering every source and a
  seasonal anomaly rule, polled minute after minute as a poller would. Minutes 0 to N - 1 each judge
  the previous hour of the sources of their slot (``alerts.anomaly_spread``, N =
  ALERTS_ANOMALY_SPREAD_MINUTES: about 1/N of them, one read each minute); minute N and minute 30 are
  steady (the hour judged); minute 59 is steady too, with the burn-rate windows' hour edge. Every minute
  includes the burn-rate rule's once-a-minute read of the settled windows of every covered source
  (alerts.burn_windows); the last two minutes of each poll come from the poller's own count of its polls
  (alerts.recent_polls), as in a poller that has been counting for more than two minutes.

The hour is polled ``--passes`` times (default 3; the anomaly rule's memory dropped between passes,
so each judges the hour anew). A minute's figure is the best of its passes and is held to the best
of its neighbouring threshold runs (the mean of the runs just before and after it, in each pass):
as many runs on both sides, each the one least slowed by other work on a shared machine. Each ratio
is given by wall time and by CPU time (this process, plus on PostgreSQL its server backend's from
/proc): on a loaded machine wall time mostly measures the wait for a core, CPU time the work.

Printed per backend: each measured minute, the worst of them, and the average over an hour of the
minutes' ratios (the minutes not measured count as the mean of the steady minutes N and 30). Runs on
SQLite and on PostgreSQL when reachable, like bench/alerts.py (BENCH_DATABASE_URL: the PostgreSQL
server). ``--spread N`` sets ALERTS_ANOMALY_SPREAD_MINUTES for the run (1: every source judged in
the hour's first minute, as before the spread).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import run_per_backend
from bench.alerts import run_polls, select_one_floor, setup_django

SOURCES = 1000
HOURS_OF_HISTORY = 4 * 168
MINUTE = timedelta(minutes=1)


def child() -> None:
    setup_django()
    from django.db import connection

    from accounts.models import default_team_id
    from alerts import measured, recent_polls, rule_cache
    from alerts.anomaly_spread import spread_minutes
    from alerts.models import AlertRule
    from metrics.lifecycle import maintenance
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
    maintenance.mark_rolled_up(hour_start.timestamp())  # as the retention step leaves it: the last hour is rolled up
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

    def switch_to(*rules: AlertRule) -> None:
        only(*rules)
        rule_cache.current()  # the new snapshot loaded outside the measured polls, as a running poller has it

    cpu_seconds = cpu_clock(connection)

    def run(batch: list[tuple[Any, PollOutcome]]) -> tuple[float, float, float]:
        """Wall seconds, statements and CPU seconds (this process and its database server process) per poll."""
        began = cpu_seconds()
        wall, statements = run_polls(batch)
        return wall, statements, (cpu_seconds() - began) / len(batch)

    # The hour is polled PASSES times, minute after minute, each objective minute between two threshold runs of
    # the same sources; between passes the anomaly rule's memory is dropped, so each pass judges the hour anew
    # (the verdicts write nothing: every hour is usual). A minute's figure is the best of its passes, and the
    # threshold it is held to the best of its own neighbours (the mean of the runs just before and after it in
    # each pass): the same number of runs on both sides, each the one least slowed by other work on the machine.
    passes = int(os.environ.get("BENCH_OBJECTIVES_PASSES", "3"))
    switch_to(*thresholds)
    run(polls(0, 0))  # warm-up: the rule snapshot, the ORM's compiled paths
    seen: dict[int, list[tuple[float, float, float]]] = {minute: [] for minute in minutes}
    neighbours: dict[int, list[tuple[float, float]]] = {minute: [] for minute in minutes}
    thresholds_seen = [run(polls(0, 0))]
    for turn in range(passes):
        measured.forget()
        # Each pass replays the hour: a poller that has been counting its polls since before it began.
        recent_polls.forget()
        recent_polls.count(PollOutcome(source="s0", poll_id="warm", started_at=hour_start - 3 * MINUTE, ok=True))
        for minute in minutes:
            switch_to(burn, odd)
            seen[minute].append(run(polls(minute, 1 + 2 * turn)))
            switch_to(*thresholds)
            thresholds_seen.append(run(polls(minute, 2 + 2 * turn)))
            (wall_before, _, cpu_before), (wall_after, _, cpu_after) = thresholds_seen[-2:]
            neighbours[minute].append(((wall_before + wall_after) / 2, (cpu_before + cpu_after) / 2))

    # Per minute: (wall, statements, cpu) of the objective rules and the threshold rules' (wall, cpu), each the best.
    best = {m: (min(r[0] for r in runs), runs[0][1], min(r[2] for r in runs)) for m, runs in seen.items()}
    against = {m: (min(r[0] for r in runs), min(r[1] for r in runs)) for m, runs in neighbours.items()}
    ratios = {m: (best[m][0] / against[m][0], best[m][2] / against[m][1]) for m in minutes}
    threshold = min(wall for wall, _ in against.values())
    threshold_cpu = min(cpu for _, cpu in against.values())
    vendor = connection.vendor

    def row(name: str, wall: float, cpu: float, per_poll: float, versus: str = "") -> None:
        print(
            f"{vendor:<10} {name:<22} {wall * 1e3:>7.3f} ms/poll {wall / base:>6.1f}x floor {cpu * 1e3:>7.3f} ms CPU"
            f" {per_poll:>5.2f} statements/poll{versus}"
        )

    slowest = max(wall for wall, _, _ in thresholds_seen)
    row("floor: SELECT 1", base, 0.0, 1.0)
    row(
        "threshold x2",
        threshold,
        threshold_cpu,
        thresholds_seen[0][1],
        f" (best; {len(thresholds_seen)} runs, the slowest {slowest / threshold:.2f}x it)",
    )
    for minute, (wall, per_poll, cpu) in best.items():
        kind = "judging 1/N" if minute < spread else "steady"
        by_wall, by_cpu = ratios[minute]
        row(f"slo+anomaly, min {minute:>2}", wall, cpu, per_poll, f" {by_wall:>5.2f}x / {by_cpu:>5.2f}x CPU ({kind})")
    for index, clock in enumerate(("wall", "CPU")):
        worst = max(minutes, key=lambda minute: ratios[minute][index])
        steady = sum(ratios[minute][index] for minute in steady_minutes) / len(steady_minutes)
        hour = sum(ratios[minute][index] if minute in ratios else steady for minute in range(60)) / 60
        print(
            f"{vendor:<10} {clock + ' time':<9} worst minute {ratios[worst][index]:>5.2f}x threshold (minute {worst};"
            f" target <= 2 in every minute), averaged over an hour {hour:>5.2f}x; spread over N = {spread} minutes,"
            f" best of {passes} passes"
        )


def cpu_clock(connection: Any) -> Callable[[], float]:
    """CPU seconds used so far by this process and, on a local PostgreSQL server, the backend serving it.

    Wall time on a machine shared with other work counts waiting for a core; CPU time counts the work. On
    SQLite the work is all in this process; on PostgreSQL a part is the backend's, read from /proc
    (a remote server's backend is not visible: then this process's alone, printed as a warning)."""
    stat: Path | None = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone() or (0,)
            stat = Path(f"/proc/{pid}/stat")
        if not stat.exists():
            print("postgresql: the server's backend is not local: CPU figures are this process's alone")
            stat = None
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        seconds = time.process_time()
        if stat is not None:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name: state is field 3
            seconds += (int(fields[11]) + int(fields[12])) / ticks  # utime and stime, fields 14 and 15
        return seconds

    return used


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
    parser.add_argument(
        "--passes", type=int, default=3, help="passes over the hour's minutes; each figure is the best (default 3)"
    )
    args = parser.parse_args()
    if args.spread is not None:
        os.environ["ALERTS_ANOMALY_SPREAD_MINUTES"] = str(args.spread)
    os.environ["BENCH_OBJECTIVES_PASSES"] = str(max(1, args.passes))
    print(f"objective rules (burn rate + anomaly) vs threshold rules, {SOURCES} sources polled once a minute")
    return run_per_backend(__file__, "objectives")


if __name__ == "__main__":
    raise SystemExit(main())
