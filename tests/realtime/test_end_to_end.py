"""End to end over real sockets: simulator, poller and daphne as separate processes, real Redis.

A ``websockets`` client logged in through the login form (session cookie) and another with
an API token subscribe, receive an ``update`` once the simulator's document changes and the poller
stores it, and keep receiving after the poller is restarted. An anonymous client gets 4401.
Without Redis (what ``make run`` starts by default) updates still arrive, through the web process's
store watcher.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests import services
from tests.http_login import login_session
from tests.migrated_sqlite import migrate_into

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-password-long-enough"


class Stack:
    """The processes of one deployment, sharing a SQLite file and a Redis database."""

    def __init__(self, tmp_path: Path, redis_url: str | None) -> None:
        self.tmp_path = tmp_path
        self.web_port = services.free_port()
        self.simulator_port = services.free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_", "REALTIME_", "POLLER_", "CACHE_"))
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="devops_insights.settings",
            VAR_DIR=str(tmp_path),
            CACHE_KEY_PREFIX=f"e2e{self.web_port}",
            REALTIME_STORE_WATCH_INTERVAL="0.5",
            POLLER_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
            POLLER_DEFAULT_INTERVAL="5",
            LOG_LEVEL="info",
        )
        if redis_url:
            self.env["REDIS_URL"] = redis_url

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

    def start(self, name: str, argv: list[str]) -> None:
        log = (self.tmp_path / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self, name: str) -> None:
        proc = self.processes.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def start_poller(self) -> None:
        self.start("poller", [sys.executable, "manage.py", "poll", "--loop"])

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in self.tmp_path.glob("*.log")
        )

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.web_port}/ws/metrics/"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"


def run_stack(stack: Stack) -> Iterator[Stack]:
    migrate_into(stack.tmp_path, stack.env)
    stack.manage("seed_demo", "--simulator-port", str(stack.simulator_port))
    stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        f"get_user_model().objects.create_superuser('e2e', 'e2e@localhost', '{PASSWORD}')\n",
    )
    # A one-second window: the simulated documents change every second, so every poll stores a change.
    stack.start(
        "simulator",
        [sys.executable, "manage.py", "simulate_upstream", "--port", str(stack.simulator_port), "--window", "1"],
    )
    daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(stack.web_port)]
    stack.start("web", [*daphne, "devops_insights.asgi:application"])
    stack.start_poller()
    try:
        for port, name in ((stack.simulator_port, "simulator"), (stack.web_port, "web")):
            if not services.wait_for_port("127.0.0.1", port, proc=stack.processes[name]):
                pytest.fail(f"{name} did not start\n{stack.logs()}")
        yield stack
    finally:
        for name in list(stack.processes):
            stack.stop(name)


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, redis_client: Any) -> Iterator[Stack]:
    yield from run_stack(Stack(tmp_path, redis_url))


@pytest.fixture
def embedded_stack(tmp_path: Path) -> Iterator[Stack]:
    """What `make run` starts without REDIS_URL: in-memory layer, SQLite, separate processes."""
    yield from run_stack(Stack(tmp_path, None))


def issue_token(stack: Stack) -> str:
    out = stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\nfrom accounts.models import ApiToken\n"
        "print(ApiToken.issue(get_user_model().objects.get(username='e2e'), 'e2e')[1])\n",
    )
    return out.strip().splitlines()[-1]


def admin_login(stack: Stack) -> str:
    """Log in through the login form like a browser; return the session cookie value."""
    return login_session(stack.origin, "e2e", PASSWORD)


async def next_update(ws: ClientConnection, source: str, after: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no update for {source} after sequence {after} within {timeout}s"
        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if message["type"] == "update" and message["source"] == source and message["sequence"] > after:
            return message


async def test_it_streams_poller_changes_to_logged_in_clients_across_a_poller_restart(stack: Stack) -> None:
    session = admin_login(stack)
    token = issue_token(stack)
    browser = await connect(stack.ws_url, origin=stack.origin, additional_headers={"Cookie": f"sessionid={session}"})
    script = await connect(stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    try:
        await browser.send(json.dumps({"type": "subscribe", "sources": ["us-east"], "id": 1}))
        reply = json.loads(await browser.recv())
        assert (reply["type"], reply["id"], reply["subscribed"]) == ("snapshot", 1, ["us-east"]), reply
        known = {s["source"]: s["sequence"] for s in reply["snapshots"]}
        await script.send(json.dumps({"type": "subscribe", "sources": "all"}))
        assert json.loads(await script.recv())["type"] == "snapshot"

        # Sequence 1 is a source's first stored document: it has no predecessor, so its diff is empty.
        # Under load the client can subscribe before that first poll lands; wait for the state the
        # diff assertion needs (an update that follows an earlier snapshot), not for time.
        after_first_document = max(known.get("us-east", 0), 1)
        try:
            first = await next_update(browser, "us-east", after_first_document, timeout=45)
            await next_update(script, "us-east", 0, timeout=30)
        except (AssertionError, TimeoutError):
            pytest.fail(f"no update before the restart\n{stack.logs()}")
        assert first["metrics"], "the update carries the extracted metrics"
        assert first["diff"], "a changed document carries its diff"

        stack.stop("poller")
        stack.start_poller()
        try:
            after_restart = await next_update(browser, "us-east", first["sequence"], timeout=45)
        except (AssertionError, TimeoutError):
            pytest.fail(f"no update after the poller restart\n{stack.logs()}")
        assert after_restart["sequence"] > first["sequence"]
        assert after_restart["hash"] != first["hash"]

        # The stored snapshot agrees with what was pushed.
        await browser.send(json.dumps({"type": "get", "source": "us-east", "id": "check"}))
        while (current := json.loads(await browser.recv())).get("id") != "check":
            pass
        assert current["snapshots"][0]["sequence"] >= after_restart["sequence"]
    finally:
        await browser.close()
        await script.close()


async def test_it_closes_an_anonymous_client_with_4401_over_the_wire(stack: Stack) -> None:
    ws = await connect(stack.ws_url, origin=stack.origin)
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_it_streams_changes_without_redis_as_make_run_does(embedded_stack: Stack) -> None:
    token = issue_token(embedded_stack)
    ws = await connect(embedded_stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    try:
        await ws.send(json.dumps({"type": "subscribe", "sources": ["eu-west"]}))
        reply = json.loads(await ws.recv())
        known = {s["source"]: s["sequence"] for s in reply["snapshots"]}
        try:
            update = await next_update(ws, "eu-west", known.get("eu-west", 0), timeout=30)
        except (AssertionError, TimeoutError):
            pytest.fail(f"no update without Redis\n{embedded_stack.logs()}")
        assert update["metrics"]
        assert update["payload"]["results"]["stats"]
    finally:
        await ws.close()
