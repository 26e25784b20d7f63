"""Alert history is pruned after the retention, except the event of an alert still firing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from alerts.models import AlertEvent, Delivery
from alerts.retention import prune_history
from tests.alerts.support import PollDriver, make_channel, make_rule
from tests.factories import make_source
from tests.paths import ROOT


@pytest.mark.django_db
def test_it_prunes_old_events_and_their_deliveries_but_keeps_firing_ones(settings: Any) -> None:
    settings.ALERTS_EVENT_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=40)
    channel = make_channel(kind="email", email_to="ops@example.com")
    make_rule(
        name="cpu",
        kind="metric",
        metric="cpu_load",
        operator=">",
        threshold=85,
        fire_after=1,
        resolve_after=1,
        channels=[channel],
    )
    flapped = PollDriver(make_source("eu-west"), start=old)
    flapped.ok(cpu_load=99)
    flapped.ok(cpu_load=1)
    stuck = PollDriver(make_source("us-east"), start=old)
    stuck.ok(cpu_load=99)
    recent = PollDriver(make_source("sa-east"), start=timezone.now() - timedelta(days=1))
    recent.ok(cpu_load=99)
    assert AlertEvent.objects.count() == 4
    assert Delivery.objects.count() == 4

    assert prune_history() == 2
    assert sorted(AlertEvent.objects.values_list("source__slug", "kind")) == [
        ("sa-east", "fired"),
        ("us-east", "fired"),  # older than the retention, but that alert is still firing
    ]
    assert Delivery.objects.count() == 2


def test_it_stops_the_sender_loop_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "MONGODB_"))}
    env["VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    proc = subprocess.Popen(
        [*manage, "send_notifications", "--loop", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "sending alert notifications every 0.2s" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip().endswith("stopped")
