"""A poller deployment in subprocesses: a migrated SQLite database in a temp VAR_DIR and its environment."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.migrated_sqlite import migrate_into
from tests.paths import ROOT
from tests.services import COMMAND_TIMEOUT
from tests.simulator import RunningSimulator


class Stack:
    """A migrated SQLite database in a temp VAR_DIR and the environment the subprocesses share."""

    def __init__(self, var_dir: Path, redis_url: str | None, simulator: RunningSimulator) -> None:
        self.var_dir = var_dir
        self.simulator = simulator
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MONGODB_URL", "REDIS_URL"}}
        env.update(
            VAR_DIR=str(var_dir),
            CACHE_KEY_PREFIX=f"scale-{uuid.uuid4().hex[:8]}",
            POLLER_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
            POLLER_HEARTBEAT_SECONDS="1",
            POLLER_RELOAD_SECONDS="2",
            POLLER_RETRIES="0",
            LOG_LEVEL="warning",
            DJANGO_DEBUG="true",
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def migrate(self) -> None:
        migrate_into(self.var_dir, self.env)

    def manage(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=True,
        )

    def start_poller(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "poll", *(args or ("--loop", "--concurrency", "4"))],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.var_dir / "devops_insights.sqlite3", timeout=20) as conn:
            return conn.execute(sql).fetchall()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
