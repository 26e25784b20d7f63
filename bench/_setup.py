"""Set-up shared by the benchmarks: temporary databases, a project environment, child processes.

One home for what every bench module used to repeat: where the PostgreSQL server and Redis are
(``BENCH_DATABASE_URL``/``TEST_DATABASE_URL``, ``BENCH_REDIS_URL``/``TEST_REDIS_URL``), a temporary
PostgreSQL database created and dropped around a run, the embedded SQLite options, a clean
environment for ``manage.py`` children, the upstream simulator, daphne, and stopping what was started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.services import free_port, wait_for_port  # noqa: E402 - needs ROOT on the path

__all__ = [
    "ROOT",
    "RedisServer",
    "TemporaryDatabase",
    "daphne",
    "delete_redis_prefix",
    "free_port",
    "manage",
    "nx_server",
    "postgres_server_url",
    "project_env",
    "redis_url",
    "simulator",
    "sql_backend",
    "sqlite_config",
    "stop",
    "temporary_postgres",
    "wait_for_port",
]

# Variables a child must not inherit from the shell: each bench states the configuration it measures.
PROJECT_PREFIXES = ("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_", "REALTIME_", "POLLER_", "CACHE_")


def postgres_server_url() -> str:
    return (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/postgres"
    )


def redis_url(default_db: int = 15) -> str:
    return (
        os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or f"redis://127.0.0.1:6379/{default_db}"
    )


@dataclass(frozen=True)
class TemporaryDatabase:
    name: str
    url: str  # DATABASE_URL for a child process
    params: dict[str, Any]  # psycopg.connect() keyword arguments for the server's maintenance database
    django: dict[str, Any]  # a settings.DATABASES entry for this process


@contextmanager
def temporary_postgres(label: str) -> Iterator[TemporaryDatabase | None]:
    """A fresh database named ``bench_<label>_<random>``, dropped afterwards; None (printed) without a server."""
    import psycopg
    from environ import Env

    server = postgres_server_url()
    base = Env.db_url_config(server)
    params = {
        "host": base["HOST"] or "127.0.0.1",
        "port": base["PORT"] or 5432,
        "user": base["USER"],
        "password": base["PASSWORD"] or None,
        "dbname": "postgres",
        "connect_timeout": 2,
    }
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL: skipped ({type(exc).__name__})")
        yield None
        return
    try:
        yield TemporaryDatabase(
            name=name,
            url=f"{server.rpartition('/')[0]}/{name}",
            params=params,
            django={**base, "NAME": name, "TEST": {"NAME": name, "DEPENDENCIES": []}},
        )
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_per_backend(script: str, label: str) -> int:
    """Run ``script --child`` on SQLite (a temporary file), then on a temporary PostgreSQL database when one is
    reachable; 1 when a child failed. The child reads its database from DATABASE_URL (none: SQLite in VAR_DIR)."""
    services = ("REDIS_URL", "MONGODB_URL")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", *services))}
        env["VAR_DIR"] = tmp
        failed |= subprocess.run([sys.executable, script, "--child"], env=env, cwd=ROOT).returncode != 0
    with temporary_postgres(label) as database:
        if database is not None:
            env = {k: v for k, v in os.environ.items() if not k.startswith(services)}
            env["DATABASE_URL"] = database.url
            failed |= subprocess.run([sys.executable, script, "--child"], env=env, cwd=ROOT).returncode != 0
    return 1 if failed else 0


def sqlite_config(path: str) -> dict[str, Any]:
    """The same options as the embedded default in settings.py."""
    from devops_insights.config import sqlite_options

    return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": sqlite_options()}


@contextmanager
def sql_backend(alias: str, config: dict[str, Any]) -> Iterator[Any]:
    """A migrated ``SqlMetricStore`` on a database added to this (set-up) Django process as ``alias``."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from metrics.stores.sql import SqlMetricStore

    settings.DATABASES[alias] = config
    connections.__dict__.pop("settings", None)
    call_command("migrate", "metrics", database=alias, verbosity=0)
    try:
        yield SqlMetricStore(using=alias)
    finally:
        connections[alias].close()


@contextmanager
def nx_server() -> Iterator[str | None]:
    """A throwaway nx-27017 (MongoDB wire protocol) server's URL; None (printed) when it is not installed."""
    exe = shutil.which("nx-27017", path=str(Path(sys.executable).parent)) or shutil.which("nx-27017")
    if exe is None:
        print("nx-27017: skipped (not installed)")
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen(
            [exe, "--host", "127.0.0.1", "--port", str(port), "--db", f"{tmp}/m.db", "--log-file", f"{tmp}/nx.log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_for_port("127.0.0.1", port, proc=proc):
                print("nx-27017: skipped (did not start)")
                yield None
            else:
                yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
        finally:
            stop(proc)


def project_env(**settings: str) -> dict[str, str]:
    """This environment without the project's own variables, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_PREFIXES)}
    env.update(DJANGO_SETTINGS_MODULE="devops_insights.settings", LOG_LEVEL="warning")
    env.update(settings)
    return env


def as_deployed() -> dict[str, str]:
    """The settings a production process runs with that the embedded defaults do not: DEBUG off (with it on,
    Django's debug cursor renders every statement with its parameters, whole documents on a changed poll,
    which no production process pays for), a secret key of this run, and a host to allow."""
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "localhost",
    }


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """Run ``manage.py`` in a child with ``env``; its stdout, or exit with its stderr's tail."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def simulator(env: dict[str, str], window: float = 3600, cpus: set[int] | None = None) -> Iterator[int]:
    """The upstream simulator in its own process (not this one's GIL); its port. Documents change every ``window`` s.

    ``cpus``: the CPUs it may run on (its own affinity, set before it starts; none given, the caller's)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_upstream", "--port", str(port), "--window", str(window)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Set in the child before it runs anything, so every thread it starts inherits it.
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    try:
        if not wait_for_port("127.0.0.1", port, timeout=30, proc=proc):
            raise SystemExit(f"the simulator did not start on port {port}")
        yield port
    finally:
        stop(proc, timeout=10)


def daphne(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """One daphne process serving the project, as production runs it; its process and port."""
    port = free_port()
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", os.devnull]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*argv, "devops_insights.asgi:application"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if not wait_for_port("127.0.0.1", port, timeout=60, proc=proc):
        stop(proc)
        raise SystemExit(f"daphne did not start:\n{log.read_text(errors='replace')[-2000:]}")
    return proc, port


class RedisServer:
    """A bench-owned redis-server on a free port (nothing persisted), to stop in the middle of a run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with (self.root / "redis.log").open("ab") as out:
            self.process = subprocess.Popen([*argv, "--dir", str(self.root)], stdout=out, stderr=subprocess.STDOUT)
        if not wait_for_port("127.0.0.1", self.port, timeout=15, proc=self.process):
            raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def delete_redis_prefix(url: str, prefix: str) -> None:
    """Delete this run's keys (``prefix*``) from a shared Redis database."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()
