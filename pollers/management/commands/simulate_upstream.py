"""Serve the simulated regional status endpoints until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pollers.simulator import payload
from pollers.simulator.server import RunningSimulator


class Command(BaseCommand):
    help = "Serve /status/<region>?stats=1 for the demo regions (any region name works), with fault injection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8001, help="Port to bind (default 8001).")
        parser.add_argument(
            "--window",
            type=float,
            default=payload.DEFAULT_WINDOW_SECONDS,
            help="Seconds a document stays unchanged (default 30).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["window"] <= 0:
            raise CommandError("--window must be positive")
        self.shutdown = False
        try:
            simulator = RunningSimulator(options["host"], options["port"], options["window"]).start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc.strerror}") from None
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.stdout.write(f"Upstream simulator on {simulator.base_url}/status/<region>?stats=1")
        try:
            while not self.shutdown:
                time.sleep(0.2)
        finally:
            simulator.stop()
        self.stdout.write("Upstream simulator stopped")

    def on_signal(self, signum: int, frame: Any) -> None:
        self.shutdown = True
