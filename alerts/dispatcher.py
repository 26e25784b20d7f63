"""The delivery thread inside the process that evaluates alerts (the poller), off the polling path.

The evaluator only writes delivery rows and wakes this thread after commit; the thread drains
the outbox (``alerts.delivery``) and also wakes every ``ALERTS_DELIVERY_POLL_INTERVAL`` seconds
for retries that have come due. One thread per process, started on first use, with a bounded
worker pool per batch: memory does not grow with the number of alerts, and a poll never waits
on a notification. With ``ALERTS_DELIVERY_MODE=command`` it never starts and
``manage.py send_notifications`` does the sending instead.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connections

from alerts.delivery import run_once
from alerts.retention import prune_history

log = logging.getLogger("alerts.delivery")
PRUNE_EVERY = 3600.0  # seconds between history prunes


class Dispatcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="alerts-dispatcher", daemon=True)
            self._thread.start()
            log.info("alert delivery thread started")

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        next_prune = time.monotonic() + 60  # not at start-up, when every poller starts at once
        try:
            while not self._stopping.is_set():
                self._wake.wait(timeout=settings.ALERTS_DELIVERY_POLL_INTERVAL)
                self._wake.clear()
                if self._stopping.is_set():
                    break
                try:
                    close_old_connections()  # the database may have restarted since the last pass
                    run_once()
                    if time.monotonic() >= next_prune:
                        next_prune = time.monotonic() + PRUNE_EVERY
                        prune_history()
                except Exception:
                    # A database hiccup must not kill the thread: the rows wait in the outbox.
                    log.exception("alert delivery pass failed")
        finally:
            connections.close_all()


dispatcher = Dispatcher()


def wake_dispatcher() -> None:
    if settings.ALERTS_DELIVERY_MODE == "thread":
        dispatcher.wake()
