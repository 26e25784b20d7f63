"""A poller-like worker for the exactly-once tests: replays one scripted poll sequence of a source.

Run in threads (``replay``) or as a process (``python -m tests.alerts.poller_worker SOURCE_PK GO_FILE``
with DATABASE_URL naming the test database). Every worker sends the *same* polls, the worst case
for exactly-once: each transition must still be recorded once.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# cpu_load per poll: fires after 2 polls over 85, resolves after 2 under; 8 full cycles.
CYCLE = [90.0, 91.0, 92.0, 10.0, 11.0]
CYCLES = 8
SCRIPT = CYCLE * CYCLES
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(seconds=30)


def replay(source_pk: int) -> int:
    from metrics.stores.base import RecordResult
    from pollers.models import Source
    from pollers.outcome import PollOutcome
    from pollers.signals import poll_completed

    source = Source.objects.get(pk=source_pk)
    for i, cpu in enumerate(SCRIPT):
        at = START + INTERVAL * i
        source.last_polled_at = source.last_success_at = at
        outcome = PollOutcome(
            source=source.slug,
            poll_id=f"poll-{i}",
            started_at=at,
            ok=True,
            record=RecordResult(changed=True, hash=f"h{i}", metrics={"cpu_load": cpu}, sequence=i, diff=[]),
            payload={"cpu": cpu},
        )
        # send_robust, as the poller does: a receiver's error must not stop the worker.
        for _receiver, result in poll_completed.send_robust(sender=Source, source=source, outcome=outcome):
            if isinstance(result, Exception):
                raise result
    return len(SCRIPT)


def main() -> None:
    source_pk, go_file = int(sys.argv[1]), Path(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_insights.settings")
    import django

    django.setup()
    deadline = time.monotonic() + 30
    while not go_file.exists():  # start together, to collide as much as possible
        if time.monotonic() > deadline:
            raise SystemExit("never told to start")
        time.sleep(0.005)
    print(replay(source_pk))


if __name__ == "__main__":
    main()
