"""Several pollers evaluating the same polls record each transition exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from alerts.models import AlertEvent, Delivery, RuleState
from pollers.models import Source
from tests.alerts import poller_worker as worker
from tests.alerts.support import make_channel, make_rule
from tests.factories import make_source
from tests.paths import ROOT
from tests.races import at_once


def setup_alerting() -> Source:
    source = make_source()
    channel = make_channel(kind="email", email_to="ops@example.com")
    make_rule(
        name="cpu",
        kind="metric",
        metric="cpu_load",
        operator=">",
        threshold=85,
        fire_after=2,
        resolve_after=2,
        renotify_interval_seconds=60,
        channels=[channel],
    )
    return source


def assert_exactly_once(source: Source) -> None:
    events = list(AlertEvent.objects.order_by("occurred_at", "pk"))
    # Every cycle (90, 91, 92, 10, 11) fires on its 2nd poll and resolves on its 5th.
    expected = []
    for cycle in range(worker.CYCLES):
        expected += [("fired", f"poll-{cycle * 5 + 1}"), ("resolved", f"poll-{cycle * 5 + 4}")]
    assert [(e.kind, e.poll_id) for e in events] == expected
    # Each notification was queued once: per cycle the firing (poll 2), a reminder 60 s later
    # (poll 4, the re-notify interval) and the resolution.
    per_notification = Counter(Delivery.objects.values_list("event_id", "reason"))
    assert set(per_notification.values()) == {1}
    assert Counter(reason for _, reason in per_notification) == {
        "fired": worker.CYCLES,
        "reminder": worker.CYCLES,
        "resolved": worker.CYCLES,
    }
    state = RuleState.objects.get()
    assert (state.status, state.last_poll_id) == ("inactive", f"poll-{len(worker.SCRIPT) - 1}")
    assert Source.objects.get(pk=source.pk).alert_state == "ok"


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        # SQLite's in-memory test database is shared between threads in "shared cache" mode, which
        # fails concurrent writers at once instead of waiting; other processes cannot open it at all.
        pytest.skip("needs the suite on PostgreSQL (DATABASE_URL=postgres://...), as CI runs it")


@pytest.mark.django_db(transaction=True)
def test_it_records_each_transition_once_with_two_pollers_in_threads(postgres_url: str, settings: Any) -> None:
    require_postgres()
    settings.ALERTS_DELIVERY_MODE = "command"  # no sender thread: this test is about evaluation
    source = setup_alerting()
    at_once(lambda: worker.replay(source.pk), 2)
    assert_exactly_once(source)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_records_each_transition_once_with_two_poller_processes(tmp_path: Path, postgres_url: str) -> None:
    require_postgres()
    source = setup_alerting()
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env: dict[str, Any] = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "devops_insights.settings"}
    env["ALERTS_DELIVERY_MODE"] = "command"  # keep the workers to evaluation; nothing to send here
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.alerts.poller_worker", str(source.pk), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        go.touch()
        results = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        assert out.decode().strip() == str(len(worker.SCRIPT))
    assert_exactly_once(source)
