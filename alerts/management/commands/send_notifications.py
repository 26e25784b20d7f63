"""``manage.py send_notifications``: drain the alert delivery outbox, once or in a loop."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from alerts.delivery import run_once
from alerts.retention import prune_history

PRUNE_EVERY = 3600.0  # seconds between history prunes


class Command(BaseCommand):
    help = "Send pending alert notifications (email, webhook, Slack) with retries; --loop to keep running."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep sending until SIGTERM/SIGINT.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between passes with --loop (default ALERTS_DELIVERY_POLL_INTERVAL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.shutdown = False
        interval = options["interval"] or float(settings.ALERTS_DELIVERY_POLL_INTERVAL)
        if interval <= 0:
            self.stderr.write("--interval must be positive")
            raise SystemExit(2)
        if not options["loop"]:
            sent = run_once()
            self.stdout.write(f"attempted {sent} deliveries")
            return
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.stdout.write(f"sending alert notifications every {interval:g}s (Ctrl-C to stop)")
        next_prune = time.monotonic()
        while not self.shutdown:
            try:
                close_old_connections()  # a long-lived loop must survive a database restart
                sent = run_once()
                if sent:
                    self.stdout.write(f"attempted {sent} deliveries")
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY
                    prune_history()
            except Exception as exc:
                # The outbox keeps the rows; the next pass retries.
                self.stderr.write(f"delivery pass failed: {type(exc).__name__}")
            deadline = time.monotonic() + interval
            while not self.shutdown and time.monotonic() < deadline:
                time.sleep(0.2)
        self.stdout.write("stopped")

    def _stop(self, signum: int, frame: Any) -> None:
        self.shutdown = True
