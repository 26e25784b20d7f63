"""What objectives ask retention to keep: the 1-minute rollups their metric objectives count.

A metric objective counts good minutes from 1-minute rollups (``objectives.attainment``) over its period (up
to a calendar month of 31 days) and, in the monthly report, over the whole previous month. The default
policy keeps 1-minute rollups 30 days, so without this the month's first day(s) would silently drop out of
the count, and a report sent on the 1st would judge the previous month on what was left of it. Answering
``metrics.lifecycle.signals.rollups_wanted``, every source a metric objective covers keeps its rollups from
the earlier of its objectives' period starts and the start of the previous calendar month (UTC).
Availability objectives need nothing here: their availability buckets have their own floor
(``metrics.availability.REQUIRED_KEEP``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from objectives.models import Objective


def previous_month_start(now: datetime) -> datetime:
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=1)


def wanted_rollups(sender: Any, slugs: Sequence[str], now: datetime, **kwargs: Any) -> dict[str, datetime]:
    """Receiver of ``rollups_wanted``: per covered source, from when its metric objectives read rollups."""
    keep: dict[str, datetime] = {}
    wanted = set(slugs)
    for objective in Objective.objects.with_sources().filter(kind=Objective.Kind.METRIC):
        since = min(objective.period(now)[0], previous_month_start(now))
        for source in objective.covered_sources():
            if source.slug in wanted and (source.slug not in keep or since < keep[source.slug]):
                keep[source.slug] = since
    return keep
