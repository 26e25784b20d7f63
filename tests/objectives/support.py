"""Drive the objective rule kinds as the poller does: a poll through the real signal, and the hourly rollups
an anomaly rule scores (written through the store, as the retention run writes them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from metrics.lifecycle import maintenance
from metrics.rollups import RollupBucket
from metrics.stores import get_store
from objectives.attainment import rollup_reader
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed

HOUR = timedelta(hours=1)
WEEK = 168 * HOUR


def poll(source: Any, at: datetime, n: int | str) -> None:
    outcome = PollOutcome(source=source.slug, poll_id=f"p{n}", started_at=at, ok=True)
    poll_completed.send(sender=Source, source=source, outcome=outcome)


def seasonal_history(slug: str, last_hour: datetime, value: float | None) -> None:
    """Four weeks of the same hour at 100 ms (with a little spread), then ``value`` in ``last_hour`` (None: no
    rollup of it), rolled up by a run that started when ``last_hour`` ended (as the retention step marks it)."""
    values = {last_hour - k * WEEK: 100.0 + k for k in range(1, 5)}
    if value is not None:
        values[last_hour] = value
        maintenance.mark_rolled_up((last_hour + HOUR).timestamp())
    rollup_reader(get_store()).write_rollups(
        [RollupBucket(slug, "wait_time", "1h", start, 1, v, v, v, v, start) for start, v in values.items()]
    )
