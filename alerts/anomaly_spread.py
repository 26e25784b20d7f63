"""When in the hour an anomaly rule judges a source's last complete hour: spread over the hour's first minutes.

Judging an hour reads the scored hourly rollups of the sources judged (``alerts.measured``). Were every
covered source judged by its first poll of the hour, the hour's first minute would carry the whole
hour's read and scoring (at 1,000 sources a minute, about half again the minute's evaluation). Instead
each source has a **slot**, ``source.pk % ALERTS_ANOMALY_SPREAD_MINUTES``, and is judged by its first
poll at or after minute ``slot`` of the hour, so each of the first N minutes scores about 1/N of the
covered sources (one read of that share), and the other minutes none.

A source polled less often than every few minutes may have no poll between its slot and the end of the
hour: so a poll also judges when the source's next poll (``interval_seconds`` later) would come after
the spread (minute N) has ended. With polls on schedule every source's hour is therefore judged by the
later of its first poll of the hour and minute N: polled at least N minutes apart, by its first poll as
before; more often, by the first poll at or after its slot, or else the last one before minute N (the
poll before the judging one came before both). So detection is at most N minutes later than when the
first poll of the hour judged every source.

Nothing else changes: the hour judged is still the last complete one, judged once per (rule, source)
(``alerts.measured`` records it), and a poll before its source's minute says nothing (None), as a poll
of an hour already judged does, so it neither advances nor resets the hysteresis.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

MINUTE = timedelta(minutes=1)


def spread_minutes() -> int:
    """N: the hour's first minutes the judging is spread over (``ALERTS_ANOMALY_SPREAD_MINUTES``; 1 = no spread)."""
    return int(settings.ALERTS_ANOMALY_SPREAD_MINUTES)


def slot_of(source_pk: int, spread: int) -> int:
    """The minute of the hour (0 to spread - 1) from which ``source_pk``'s previous hour is judged."""
    return source_pk % spread


def due(source: Any, at: datetime, hour_start: datetime, spread: int) -> bool:
    """Whether ``source``'s poll at ``at`` (in the hour beginning ``hour_start``) may judge the hour before."""
    if at >= hour_start + slot_of(source.pk, spread) * MINUTE:
        return True
    # Before its slot: judge now when no poll of the source is due before the spread ends (polled sparsely).
    interval = timedelta(seconds=int(getattr(source, "interval_seconds", 0) or 0))
    return at + interval >= hour_start + spread * MINUTE
