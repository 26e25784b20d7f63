"""``manage.py runstack`` (what ``make run`` starts): demo sources, simulator, poller and daphne together."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from metrics.defaults import REGIONS
from tests.paths import ROOT
from tests.services import free_port, wait_for_port


@pytest.mark.slow
def test_it_runs_the_whole_stack_and_the_poller_stores_data(tmp_path: Path) -> None:
    web_port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "MONGODB_URL"}}
    env.update(VAR_DIR=str(tmp_path), SIMULATOR_PORT=str(sim_port), POLLER_DEFAULT_INTERVAL="5", LOG_LEVEL="warning")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(web_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for_port("127.0.0.1", web_port, proc=proc)
        assert wait_for_port("127.0.0.1", sim_port, proc=proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/v1/health", timeout=5) as response:
            assert response.status == 200
        stored: list[tuple[str]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sqlite3.connect(tmp_path / "devops_insights.sqlite3", timeout=20) as conn:
                stored = conn.execute("SELECT source FROM metrics_latest").fetchall()
            if len(stored) == len(REGIONS):
                break
            time.sleep(0.5)
        assert sorted(s for (s,) in stored) == sorted(REGIONS)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "Created admin account" in text
    assert "demo sources: 6 created" in text
    assert not wait_for_port("127.0.0.1", sim_port, timeout=0.5)  # the children went with it
