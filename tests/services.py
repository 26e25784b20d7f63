"""Real services for the tests: Redis, PostgreSQL and a MongoDB wire-protocol server.

Nothing here is a mock. A service that is not reachable skips its tests with the reason,
except under CI=true, where a skip for a missing service would hide untested code: it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason} (CI=true: a test skipped for a missing service fails the run)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# How long a process of the product may take to import Django and listen: seconds when idle, over a minute
# on two cores shared with other test runs. wait_for_port returns as soon as the port answers or the process
# exits, so a generous deadline costs nothing when all is well.
PROCESS_START_TIMEOUT = 180.0
# A guard against a hung one-shot ``manage.py`` command in an end-to-end test (migrate, shell, seed): such a
# command imports Django and may hash a password, over two minutes on one loaded core.
COMMAND_TIMEOUT = 600.0


def wait_for_port(
    host: str, port: int, timeout: float = PROCESS_START_TIMEOUT, proc: subprocess.Popen[bytes] | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def test_redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL


def test_database_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL


# PostgreSQL cuts longer names to this many bytes, which would cut the run's process id off.
POSTGRES_NAME_BYTES = 63


def contract_database_name(database: str, pid: int | None = None) -> str:
    """The PostgreSQL database of this run's store contract tests when the default database is SQLite.

    Named by the process id: Django drops a test database of the same name that already exists, so two runs at
    once on one server (each on SQLite) with one name dropped each other's database mid-run. Django still
    destroys it at the end of the run; one a killed run left behind is dropped by the next run given its id.
    """
    suffix = f"_contract_{os.getpid() if pid is None else pid}"
    prefix = f"test_{database}".encode()[: POSTGRES_NAME_BYTES - len(suffix)].decode(errors="ignore")
    return prefix + suffix


def redis_available(url: str) -> str | None:
    """None when Redis answers, else why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:
        return f"Redis at {url} is not reachable: {type(exc).__name__}"
    return None


def postgres_available(url: str) -> str | None:
    import psycopg
    from environ import Env

    cfg = Env.db_url_config(url)
    try:
        psycopg.connect(
            host=cfg["HOST"],
            port=cfg["PORT"] or 5432,
            user=cfg["USER"],
            password=cfg["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=2,
        ).close()
    except Exception as exc:
        return f"PostgreSQL at {cfg['HOST']}:{cfg['PORT']} is not reachable: {type(exc).__name__}"
    return None


def start_nx27017(data_dir: Path) -> Iterator[str]:
    """Run the nx-27017 MongoDB wire-protocol server (SQLite behind it) on a free port."""
    exe = shutil.which("nx-27017", path=str(Path(sys.executable).parent)) or shutil.which("nx-27017")
    if exe is None:
        unavailable("nx-27017 is not installed (pip install -r requirements/dev.txt)")
        return
    port = free_port()
    log = data_dir / "nx-27017.log"
    proc = subprocess.Popen(
        [
            exe,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(data_dir / "mongo.db"),
            "--log-file",
            str(log),
            "--pid-file",
            str(data_dir / "nx.pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        if not wait_for_port("127.0.0.1", port, proc=proc):
            unavailable(f"nx-27017 did not start on port {port} (see {log})")
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
