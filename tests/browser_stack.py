"""A whole running product for browser tests: the upstream simulator, a poller loop and daphne on free
ports, with production settings (DEBUG off, hashed static files, CSP), its own SQLite database and Redis
key prefix, and Debian's Chromium.

Chromium comes from the Debian package at /usr/bin/chromium (``.ci/run`` installs it when missing);
Playwright drives it through ``executable_path`` and never downloads a browser.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import services
from tests.migrated_sqlite import migrate_into
from tests.paths import ROOT

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


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser); skipped, or failed in CI, without it."""
    if not Path(CHROMIUM).exists():
        services.unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        services.unavailable("the playwright package is not installed (pip install -r requirements/dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


USERNAME = "browser"
PASSWORD = "browser-test-password-1"  # a throwaway account in a throwaway database
INTERVAL = 5  # seconds between polls: the shortest a source allows, so changes show quickly
# The deadline of a page action (navigate, click, wait for a selector): Playwright returns as soon as the page
# is in the state asked for, so it only matters when something is wrong. 15 s was too short for a login POST on
# two cores shared with other test runs (daphne answered in 8 s and more); waits whose deadline is what a test
# asserts (the paused badge, the poller banner) keep their own.
PAGE_TIMEOUT_MS = 120_000
# Where the session's first stack collected the static files.
_collected: dict[str, Path] = {}


@dataclass
class Stack:
    var_dir: Path
    redis_url: str
    port: int = field(default_factory=services.free_port)
    simulator_port: int = field(default_factory=services.free_port)
    web: subprocess.Popen[bytes] | None = None
    poller: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
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
            # The demo sources live on loopback, which the SSRF guard refuses unless allowed.
            POLLER_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
            POLLER_JITTER_FRACTION="0",
        )
        self.env = env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self, timeout: float = 600) -> None:
        """A migrated database and the collected static files, as a deploy leaves them.

        Both depend on the source tree alone (DEBUG is always off here), and collectstatic compresses every
        file: run per stack, the two took minutes of CPU on two shared cores and put each module's first test
        past its timeout. The database is a copy of the session's migrated one (tests/migrated_sqlite.py);
        the session's first stack collects the static files and every later one reads the same files.
        """
        migrate_into(self.var_dir, self.env, timeout)
        collected = _collected.get("static")
        if collected is None:
            self.manage("collectstatic", "--noinput", "-v0", timeout=timeout)
            _collected["static"] = self.var_dir / "staticfiles"
        else:
            (self.var_dir / "staticfiles").symlink_to(collected, target_is_directory=True)

    def manage(self, *args: str, timeout: float = services.COMMAND_TIMEOUT) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, timeout=timeout)

    def feed(self, *args: str, timeout: float = services.COMMAND_TIMEOUT) -> None:
        subprocess.run(
            [sys.executable, "-m", "tests.browser_feed", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=timeout,
        )

    def _spawn(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        with open(self.var_dir / f"{name}.log", "ab") as log:
            return subprocess.Popen(argv, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)

    def start_simulator_and_poller(self, timeout: float = services.PROCESS_START_TIMEOUT) -> None:
        window = "30"  # the simulator's documents drift every 30 s, as upstream's do
        simulator = self._spawn(
            "simulator",
            [sys.executable, "manage.py", "simulate_upstream", "--port", str(self.simulator_port), "--window", window],
        )
        self.workers.append(simulator)
        if not services.wait_for_port("127.0.0.1", self.simulator_port, timeout=timeout, proc=simulator):
            raise RuntimeError(f"the simulator did not start; see {self.var_dir / 'simulator.log'}")
        self.start_poller()

    def start_poller(self) -> None:
        # At info the poller logs each stored change (about a dozen a minute here): a failure shows which polls stored.
        self.poller = self._spawn("poller", [sys.executable, "manage.py", "poll", "--loop"], LOG_LEVEL="info")
        self.workers.append(self.poller)

    def stop_poller(self) -> None:
        """A clean stop (SIGTERM): the poller marks itself stopped, as on a deploy or a crash-free exit."""
        if self.poller is not None:
            _terminate(self.poller)
            self.workers.remove(self.poller)
        self.poller = None

    def freeze_web(self) -> None:
        """SIGSTOP daphne: the process keeps its sockets open and answers nothing, like a hung server."""
        assert self.web is not None
        self.web.send_signal(signal.SIGSTOP)

    def thaw_web(self) -> None:
        assert self.web is not None
        self.web.send_signal(signal.SIGCONT)

    def control(self, path: str, body: dict[str, object]) -> dict[str, object]:
        """POST to the simulator's loopback control API, e.g. a fault for one region."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.simulator_port}/_control/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
            return dict(json.loads(response.read()))

    def start_web(self, timeout: float = services.PROCESS_START_TIMEOUT) -> None:
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        self.web = self._spawn("daphne", [*argv, "devops_insights.asgi:application"])
        if not services.wait_for_port("127.0.0.1", self.port, timeout=timeout, proc=self.web):
            raise RuntimeError(f"daphne did not start; see {self.var_dir / 'daphne.log'}")

    def dump_stacks(self, timeout: float = 10.0) -> str:
        """Where every thread of the poller and of daphne is now (``devops_insights/stack_dump.py``, SIGUSR1)."""
        dumps = []
        for name, proc in (("poller", self.poller), ("daphne", self.web)):
            if proc is None or proc.poll() is not None:
                dumps.append(f"--- {name}: not running")
                continue
            log = self.var_dir / f"{name}.log"
            start = log.stat().st_size
            proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + timeout
            # The process's signal handler writes the dump at once: it is whole once the log stops growing.
            text, size = "", -1
            while time.monotonic() < deadline:
                time.sleep(0.3)
                text = log.read_bytes()[start:].decode(errors="replace")
                if "most recent call first" in text and len(text) == size:
                    break
                size = len(text)
            dumps.append(f"--- {name}: threads after SIGUSR1\n{text}")
        return "\n".join(dumps)

    def log_tails(self, lines: int = 40) -> str:
        """The last lines each process of the stack logged, for a failure message."""
        parts = []
        for log in sorted(self.var_dir.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop(self) -> None:
        self.stop_web()
        for proc in self.workers:
            _terminate(proc)
        self.workers.clear()

    def stop_web(self) -> None:
        if self.web is not None:
            _terminate(self.web)
        self.web = None


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
