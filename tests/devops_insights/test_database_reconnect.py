"""A dropped database connection costs no page: a live daphne keeps answering when PostgreSQL kills its sessions.

Between requests, a kept connection is checked before use (``CONN_HEALTH_CHECKS``); during a request, a
safe one whose connection is dropped runs its view once more (devops_insights/db_retry.py). The tests run
the real server against a database of their own and kill its sessions with ``pg_terminate_backend``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from environ import Env

from tests import services
from tests.paths import ROOT

pytestmark = pytest.mark.slow


def admin_connection(url: str) -> psycopg.Connection:
    cfg = Env.db_url_config(url)
    return psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def live_database(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A database of the test's own (name, URL), dropped afterwards."""
    name = f"{Env.db_url_config(postgres_url)['NAME']}_live_{secrets.token_hex(4)}"
    with admin_connection(postgres_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin_connection(postgres_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_sessions(postgres_url: str, database: str) -> int:
    with admin_connection(postgres_url) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - http://127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass
class LiveWeb:
    database: str
    port: int
    token: str

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def live_web(tmp_path: Path, live_database: tuple[str, str]) -> Iterator[LiveWeb]:
    """daphne on its own database, with an API token for a user of it."""
    database, url = live_database
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_"))}
    env.update(VAR_DIR=str(tmp_path), DATABASE_URL=url, RATELIMIT_ENABLE="false", LOG_LEVEL="warning")

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=services.COMMAND_TIMEOUT,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput")
    token = manage("shell", "-c", "from tests.factories import make_token; print(make_token('live'))").split()[-1]
    port = services.free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "devops_insights.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert services.wait_for_port("127.0.0.1", port, proc=web), "daphne did not start"
        yield LiveWeb(database, port, token)
    finally:
        web.terminate()
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()


def test_it_answers_every_page_after_postgres_terminates_the_web_process_sessions(
    postgres_url: str, live_web: LiveWeb
) -> None:
    pages = [live_web.url("/api/v1/sources"), live_web.url("/api/v1/alerts")]
    assert get(pages[0], live_web.token) == 200
    for _round in range(3):
        terminate_sessions(postgres_url, live_web.database)
        # Every page, each twice: the first request after the drop is the one that could meet a dead connection.
        answers = [get(page, live_web.token) for page in pages for _twice in range(2)]
        assert answers == [200, 200, 200, 200], answers


def test_it_retries_a_page_whose_connection_is_terminated_while_it_runs(postgres_url: str, live_web: LiveWeb) -> None:
    page = live_web.url("/api/v1/sources")
    assert get(page, live_web.token) == 200
    cfg = Env.db_url_config(postgres_url)
    locker = psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg["PASSWORD"] or None,
        dbname=live_web.database,
    )
    answers: list[int] = []
    try:
        # Hold the sources table so the page's query waits inside the view, then kill the session it waits on.
        locker.execute("LOCK TABLE pollers_source IN ACCESS EXCLUSIVE MODE")
        request = threading.Thread(target=lambda: answers.append(get(page, live_web.token)))
        request.start()
        killed = 0
        deadline = time.monotonic() + 20
        while not killed and time.monotonic() < deadline:
            with admin_connection(postgres_url) as admin:
                row = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND wait_event_type = 'Lock'",
                    (live_web.database,),
                ).fetchone()
            killed = int(row[0]) if row else 0
            time.sleep(0.05)
        assert killed == 1, "the page never waited on the locked table"
    finally:
        locker.rollback()  # the lock goes: the retried view reads on a fresh connection
        locker.close()
    request.join(timeout=30)
    assert answers == [200]


@pytest.fixture(autouse=True)
def _no_session_left(postgres_url: str, live_database: tuple[str, str]) -> Iterator[None]:
    yield
    # The server drops sessions asynchronously: wait until none is left before the database is dropped.
    deadline = time.monotonic() + 10
    while terminate_sessions(postgres_url, live_database[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
