"""Run the whole product on this machine: simulator, poller loop and daphne, stopped together."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


def demo_allowlist(configured: list[str], simulator_port: int) -> list[str]:
    """The allowlist the demo runs with: the configured entries and the simulator's port on loopback.

    The port alone, not all of 127.0.0.1: on every port, a source or webhook could reach Redis, the
    database or the web process itself (the SSRF guard refuses the simulator's control API too).
    """
    return sorted({*configured, f"127.0.0.1:{simulator_port}"})


class Command(BaseCommand):
    help = "Seed the demo, then run the upstream simulator, the poller loop and daphne until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-simulator", action="store_true", help="Do not start the upstream simulator.")
        parser.add_argument("--no-poller", action="store_true", help="Do not start the poller loop.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.shutdown = False
        self.ensure_admin()
        env = dict(os.environ)
        if not options["no_simulator"]:
            call_command("seed_demo", simulator_port=settings.SIMULATOR_PORT)
            env["POLLER_ALLOWED_PRIVATE_HOSTS"] = ",".join(
                demo_allowlist(settings.POLLER_ALLOWED_PRIVATE_HOSTS, settings.SIMULATOR_PORT)
            )

        manage = [sys.executable, "manage.py"]
        commands: list[tuple[str, list[str]]] = []
        if not options["no_simulator"]:
            commands.append(("simulator", [*manage, "simulate_upstream", "--port", str(settings.SIMULATOR_PORT)]))
        if not options["no_poller"]:
            commands.append(("poller", [*manage, "poll", "--loop"]))
        commands.append(
            (
                "web",
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    options["host"],
                    "-p",
                    str(options["port"]),
                    # daphne's own access log prints query strings (tokens included): ours replaces it.
                    "--access-log",
                    os.devnull,
                    "devops_insights.asgi:application",
                ],
            )
        )

        children: dict[str, subprocess.Popen[bytes]] = {}
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        try:
            for name, argv in commands:
                children[name] = subprocess.Popen(argv, env=env)  # noqa: S603 - our own interpreter and args
            self.stdout.write(f"DevOps Insights on http://{options['host']}:{options['port']}/  (Ctrl-C stops)")
            while not self.shutdown:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with status {child.returncode}; stopping the rest")
                        self.shutdown = True
                time.sleep(0.5)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()

    def on_signal(self, signum: int, frame: Any) -> None:
        # Only set the flag: the loop above does the stopping.
        self.shutdown = True

    def ensure_admin(self) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", "admin@localhost", password)
        # Printed once, at creation; it is stored only as a hash.
        self.stdout.write(self.style.WARNING(f"Created admin account: username 'admin', password '{password}'"))
