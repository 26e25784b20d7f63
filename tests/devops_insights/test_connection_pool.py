"""One daphne process on PostgreSQL under concurrent load: the bounded pool holds, nothing answers 5xx.

Before the pool every worker thread kept its own connection, so one web process under 32 concurrent
clients exhausted the server's ``max_connections`` and answered 500 (``too many clients already``,
then ``'SessionStore' object has no attribute '_session_cache'``). Here 64 concurrent logged-in
requests for the overview must all succeed while ``pg_stat_activity`` never shows more connections to
the process's database than ``DATABASE_POOL_MAX_SIZE``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests import services

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
POOL_MAX = 4
CLIENTS = 64
REQUESTS_PER_CLIENT = 4


def _server_url(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
def pooled_database(postgres_url: str) -> Iterator[str]:
    name = f"pool_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_server_url(postgres_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(_server_url(postgres_url, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_", "REALTIME_", "POLLER_", "CACHE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="devops_insights.settings",
        VAR_DIR=str(tmp_path),
        DATABASE_URL=database_url,
        DATABASE_POOL_MIN_SIZE="1",
        DATABASE_POOL_MAX_SIZE=str(POOL_MAX),
        DATABASE_POOL_TIMEOUT="20",
        LOG_LEVEL="warning",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=services.COMMAND_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class ConnectionWatch:
    """Samples ``pg_stat_activity`` for one database in a thread and remembers the most connections seen."""

    def __init__(self, server_url: str, database: str) -> None:
        self.connection = psycopg.connect(server_url, autocommit=True)
        self.database = database
        self.most = 0
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            row = self.connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database,),
            ).fetchone()
            self.most = max(self.most, int(row[0]) if row else 0)
            self.samples += 1
            self.stop.wait(0.02)

    def __enter__(self) -> ConnectionWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(5)
        self.connection.close()


def test_it_holds_64_concurrent_requests_within_the_pool(
    tmp_path: Path, postgres_url: str, pooled_database: str
) -> None:
    database_url = _server_url(postgres_url, pooled_database)
    env = _environment(tmp_path, database_url)
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed_demo", "--simulator-port", str(services.free_port()))
    session = _manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from django.test import Client\n"
        "user = get_user_model().objects.create_user('load', 'load@localhost', 'load-password-long-enough')\n"
        "client = Client()\n"
        "client.force_login(user)\n"
        "print('session', client.cookies['sessionid'].value)\n",
    ).split()[-1]

    port = services.free_port()
    log_path = tmp_path / "daphne.log"
    with log_path.open("ab") as log:
        daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "devops_insights.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert services.wait_for_port("127.0.0.1", port, proc=daphne), log_path.read_text()
        url = f"http://127.0.0.1:{port}/"

        def client(_: int) -> list[int]:
            with requests.Session() as http:
                http.cookies.set("sessionid", session)
                return [http.get(url, timeout=60).status_code for _ in range(REQUESTS_PER_CLIENT)]

        with ConnectionWatch(postgres_url, pooled_database) as watch, ThreadPoolExecutor(CLIENTS) as executor:
            statuses = [status for result in executor.map(client, range(CLIENTS)) for status in result]
    finally:
        daphne.terminate()
        try:
            daphne.wait(30)
        except subprocess.TimeoutExpired:
            daphne.kill()
            daphne.wait()

    log_text = log_path.read_text(errors="replace")
    assert len(statuses) == CLIENTS * REQUESTS_PER_CLIENT
    assert [s for s in statuses if s >= 500] == [], log_text[-3000:]
    assert set(statuses) == {200}, sorted(set(statuses))
    # The watch saw the process connected (so it measured something) and never above the pool's bound.
    assert watch.samples > 0
    assert 1 <= watch.most <= POOL_MAX, watch.most
    assert "too many clients" not in log_text
    assert "_session_cache" not in log_text
