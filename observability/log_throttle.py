"""A logging filter that lets one line through per interval for each (logger, message) and counts the rest.

Why: during a Redis outage every cache call is an ignored exception that django-redis logs with a traceback
(about 1,300 lines in 5 s under load). The first line of an outage tells the operator all they need; the
next one, an interval later, says how many were held back, so the outage's size stays visible.
"""

from __future__ import annotations

import logging
import threading
import time

DEFAULT_INTERVAL = 30.0


class ThrottleFilter(logging.Filter):
    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__()
        self.interval = float(interval)
        self._lock = threading.Lock()
        # (logger, message template) -> (when the last line passed, lines held back since)
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            last, held = self._seen.get(key, (None, 0))
            if last is not None and now - last < self.interval:
                self._seen[key] = (last, held + 1)
                return False
            self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.interval:g} s were not logged)"
        return True
