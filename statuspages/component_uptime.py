"""Uptime and latency of a component (one or more sources) over a named window, from availability buckets.

A component's polls are all its sources' polls: counts add up and latency histograms merge by adding
(metrics/availability.py), so a component of three sources with one down reads as two thirds up.
One store round trip (``availability_of_sources``) per window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from metrics.availability import percentile, uptime_percent, window_span
from metrics.stores.base import MetricStore, UptimeWindow


def component_window(store: MetricStore, sources: Sequence[str], window: str, now: datetime) -> UptimeWindow:
    span = window_span(window, now)
    polls = up = 0
    latency: Counter[int] = Counter()
    if sources:
        found = store.availability_of_sources(list(sources), span.tier, span.start, span.end, latency=True)
        for buckets in found.values():
            for bucket in buckets:
                polls += bucket.polls
                up += bucket.up
                latency.update(bucket.latency)
    return UptimeWindow(
        window=window,
        tier=span.tier,
        start=span.start,
        end=span.end,
        polls=polls,
        up=up,
        down=polls - up,
        uptime_percent=uptime_percent(polls, up),
        latency_p50_ms=percentile(latency, 50),
        latency_p95_ms=percentile(latency, 95),
    )
