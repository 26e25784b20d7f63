"""daphne processes for the issue 14 tests: the real server, its real transport, its real logs.

One ``Site`` is a deployment: a SQLite file, optionally a Redis database, and as many daphne
(or uvicorn) processes as a test starts, each run as production runs it (``--access-log /dev/null``: the
project's access log replaces daphne's). Users, tokens and sessions are made as a person would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests import services
from tests.http_login import login_session
from tests.migrated_sqlite import migrate_into

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hardening-password-long-enough"


class Site:
    def __init__(self, tmp_path: Path, redis_url: str | None = None, **settings: str) -> None:
        self.tmp_path = tmp_path
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_", "REALTIME_", "POLLER_", "CACHE_"))
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="devops_insights.settings",
            VAR_DIR=str(tmp_path),
            CACHE_KEY_PREFIX=f"hardening{os.getpid()}{id(self)}",
            LOG_LEVEL="info",
            LOG_FORMAT="text",
            **settings,
        )
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        migrate_into(tmp_path, self.env)
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model\n"
            f"get_user_model().objects.create_superuser('probe', 'probe@localhost', '{PASSWORD}')\n",
        )

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=services.COMMAND_TIMEOUT,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, name: str = "web", server: str = "daphne") -> int:
        """Start a web process: daphne as production runs it, or uvicorn with its ``websockets-sansio``
        implementation (per-message compression left on, so a client that offers it gets the ordinary send)."""
        port = services.free_port()
        log = (self.tmp_path / f"{name}.log").open("ab")
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", os.devnull]
        argv.append("devops_insights.asgi:application")
        if server == "uvicorn":
            argv = [sys.executable, "-m", "uvicorn", "devops_insights.asgi:application", "--port", str(port)]
            argv += ["--ws", "websockets-sansio", "--no-access-log"]
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = proc
        self.ports[name] = port
        assert services.wait_for_port("127.0.0.1", port, proc=proc), self.log(name)
        return port

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()

    def log(self, name: str = "web") -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def origin(self, name: str = "web") -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def ws_url(self, name: str = "web", query: str = "") -> str:
        return f"ws://127.0.0.1:{self.ports[name]}/ws/metrics/" + (f"?{query}" if query else "")

    def token(self) -> str:
        out = self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model\nfrom accounts.models import ApiToken\n"
            "print(ApiToken.issue(get_user_model().objects.get(username='probe'), 'probe')[1])\n",
        )
        return out.strip().splitlines()[-1]

    def session(self, name: str = "web") -> str:
        """Log in through the login form like a browser; the session cookie's value."""
        return login_session(self.origin(name), "probe", PASSWORD)
