"""Alert evaluation benchmark: what the ``poll_completed`` receiver costs per poll.

For 50 sources and 10 rules each (all kinds of conditions), evaluation of 1,000 polls when every
rule stays quiet (the common case: one read, no write) and when the rules churn (pending, firing,
resolving: compare-and-set writes, events, deliveries). The floor, measured in the same run on the
same database, is one trivial round trip per poll (``SELECT 1``); figures are ratios to it.

Runs on SQLite (a temporary file) and on PostgreSQL when reachable (a temporary database, created
and dropped). Environment: BENCH_DATABASE_URL (PostgreSQL server, default TEST_DATABASE_URL or the
local one).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._setup import run_per_backend  # noqa: E402 - needs ROOT on the path

SOURCES = 50
POLLS = 1000


def setup_django() -> None:
    """Django on the database of this child's environment, migrated; evaluation measured, not sending."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_insights.settings")
    os.environ["ALERTS_DELIVERY_MODE"] = "command"  # measure evaluation, not sending
    os.environ["ALERTS_PUBLISH_LIVE"] = "false"
    os.environ.setdefault("LOG_LEVEL", "warning")  # an audit line per set-up row would bury the table
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run_polls(batch: list[tuple[Any, Any]]) -> tuple[float, float]:
    """Send ``poll_completed`` for each (source, outcome): seconds and SQL statements per poll."""
    from django.db import connection

    from pollers.models import Source
    from pollers.signals import poll_completed

    statements = [0]

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    began = time.perf_counter()
    with connection.execute_wrapper(counted):
        for source, outcome in batch:
            source.last_success_at = outcome.started_at
            poll_completed.send(sender=Source, source=source, outcome=outcome)
    return (time.perf_counter() - began) / len(batch), statements[0] / len(batch)


def select_one_floor(count: int = POLLS) -> float:
    """Seconds per trivial round trip (``SELECT 1``): the floor every figure is a ratio to."""
    from django.db import connection

    began = time.perf_counter()
    with connection.cursor() as cursor:
        for _ in range(count):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return (time.perf_counter() - began) / count


def child() -> None:
    setup_django()
    from django.db import connection

    from alerts.models import AlertEvent, AlertRule, NotificationChannel
    from metrics.stores.base import RecordResult
    from pollers.models import Source
    from pollers.outcome import PollOutcome

    sources = [Source.objects.create(slug=f"s{i}", name=f"s{i}", url=f"http://127.0.0.1/{i}") for i in range(SOURCES)]
    channel = NotificationChannel.objects.create(name="mail", kind="email", email_to="ops@example.com")
    rules = [
        {"kind": "metric", "metric": "cpu_load", "operator": ">", "threshold": 85},
        {"kind": "metric", "metric": "wait_time", "operator": ">=", "threshold": 2000, "for_seconds": 60},
        {"kind": "field", "path": "results.services.redis", "operator": "==", "value": "false"},
        {"kind": "field", "path": "status", "operator": "!=", "value": '"ok"', "severity": "critical"},
        {"kind": "poll_failures", "count": 3, "fire_after": 1},
        {"kind": "circuit_open", "fire_after": 1},
        {"kind": "stale_hash", "count": 20, "fire_after": 1},
        {"kind": "no_success", "duration_seconds": 300, "fire_after": 1},
        {"kind": "metric", "metric": "error_rate", "operator": ">", "threshold": 5},
        {"kind": "metric", "metric": "online", "operator": "<", "threshold": 1, "severity": "critical"},
    ]
    for i, fields in enumerate(rules):
        rule = AlertRule(name=f"rule {i}", **fields)  # type: ignore[arg-type]
        rule.full_clean()
        rule.save()
        rule.channels.set([channel])

    # Polls from an hour ahead: evaluation takes silences at the poll's own time, current ones from memory.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)

    def polls(churn: bool, offset: int) -> list[tuple[Source, PollOutcome]]:
        out = []
        for n in range(POLLS):
            source = sources[n % SOURCES]
            tick = offset + n // SOURCES
            # churn: every source flips between healthy and broken every 4 polls
            bad = churn and (tick // 4) % 2 == 1
            cpu = 95.0 if bad else 40.0
            payload = {"status": "error" if bad else "ok", "results": {"services": {"redis": not bad}}}
            metrics = {"cpu_load": cpu, "wait_time": 2500.0 if bad else 60.0, "error_rate": 0.5, "online": 50.0}
            at = start + timedelta(seconds=30 * tick)
            outcome = PollOutcome(
                source=source.slug,
                poll_id=f"{offset}-{n}",
                started_at=at,
                ok=True,
                record=RecordResult(changed=True, hash=f"h{tick}", metrics=metrics, sequence=tick, diff=[]),
                payload=payload,
            )
            out.append((source, outcome))
        return out

    run = run_polls
    base = select_one_floor()
    run(polls(churn=False, offset=-10)[:SOURCES])  # warm-up: the rule snapshot
    quiet, quiet_statements = run(polls(churn=False, offset=0))
    churn, churn_statements = run(polls(churn=True, offset=1000))
    events = AlertEvent.objects.count()
    rows = (
        ("floor: SELECT 1", base, 1.0),
        ("10 quiet rules", quiet, quiet_statements),
        ("10 churning rules", churn, churn_statements),
    )
    for name, value, per_poll in rows:
        print(
            f"{connection.vendor:<10} {name:<20} {value * 1e3:>9.3f} ms/poll {value / base:>8.1f}x floor"
            f" {per_poll:>6.2f} statements/poll"
        )
    print(f"{connection.vendor:<10} {'events recorded':<20} {events:>9d}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
        return 0
    print(f"alert evaluation, {SOURCES} sources x 10 rules, {POLLS} polls per scenario")
    print(f"{'backend':<10} {'scenario':<20} {'cost':>17} {'ratio':>14}")
    return run_per_backend(__file__, "alerts")


if __name__ == "__main__":
    raise SystemExit(main())
