"""A whole running product for browser tests: its own SQLite database and Redis key prefix, daphne on a
free port with production settings (DEBUG off, hashed static files, CSP), and Debian's Chromium.

Chromium comes from the Debian package at /usr/bin/chromium (``.ci/run`` installs it when missing);
Playwright drives it through ``executable_path`` and never downloads a browser.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests import services

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
USERNAME = "browser"
PASSWORD = "browser-test-password-1"  # a throwaway account in a throwaway database


@dataclass
class Stack:
    var_dir: Path
    redis_url: str
    port: int = field(default_factory=services.free_port)
    web: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "MONGODB_URL"))}
        env.update(
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="devops_insights.settings",
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SECURE_SSL_REDIRECT="false",
            DJANGO_SECURE_COOKIES="false",
            DJANGO_HSTS_SECONDS="0",
            VAR_DIR=str(self.var_dir),
            REDIS_URL=self.redis_url,
            # Its own prefix: nothing it writes to Redis can meet another test's keys.
            CACHE_KEY_PREFIX=f"browser{secrets.token_hex(4)}",
            LOG_LEVEL="warning",
        )
        self.env = env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 120) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, timeout=timeout)

    def feed(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "tests" / "browser_feed.py"), *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=120,
        )

    def start_web(self) -> None:
        log = open(self.var_dir / "daphne.log", "ab")  # noqa: SIM115 - closed with the process
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        self.web = subprocess.Popen(
            [*argv, "devops_insights.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if not services.wait_for_port("127.0.0.1", self.port, timeout=30, proc=self.web):
            raise RuntimeError(f"daphne did not start; see {self.var_dir / 'daphne.log'}")

    def stop_web(self) -> None:
        if self.web is None:
            return
        if self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
            try:
                self.web.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait(timeout=5)
        self.web = None
