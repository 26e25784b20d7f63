"""The windows SLO arithmetic (metrics.slo) reads, as good/total counts from the availability buckets:
every window of one source in one ``availability_totals`` call.

Each window is a whole number of complete buckets ending where the current bucket starts, so it is
exactly as long as its name says and a later read never sees a bucket change under it. The windows
up to 6 h read minute buckets (fresh to the minute: the alert pairs' short windows are among them);
1 d and 3 d read hour buckets, so they lag by up to an hour, which is small against their length and
keeps the read bounded (MongoDB reads the union of a tier's spans: 360 minute and 72 hour buckets per
source instead of 4,320 minute ones), and minute buckets may be kept only a day (retention's floor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from metrics.availability import bucket_start
from metrics.slo import Counts, SloError
from metrics.stores.arguments import aware_utc
from metrics.stores.base import AvailabilitySpan, MetricStore


@dataclass(frozen=True)
class SloWindow:
    name: str
    length: timedelta
    tier: str


SLO_WINDOWS: dict[str, SloWindow] = {
    window.name: window
    for window in (
        SloWindow("5m", timedelta(minutes=5), "1m"),
        SloWindow("30m", timedelta(minutes=30), "1m"),
        SloWindow("1h", timedelta(hours=1), "1m"),
        SloWindow("6h", timedelta(hours=6), "1m"),
        SloWindow("1d", timedelta(days=1), "1h"),
        SloWindow("3d", timedelta(days=3), "1h"),
    )
}


def slo_spans(now: datetime, names: Sequence[str] = tuple(SLO_WINDOWS)) -> dict[str, AvailabilitySpan]:
    """Each named window as the span of its complete buckets before ``now``."""
    now = aware_utc(now, "now")
    if not names:
        raise SloError("no windows asked for")
    unknown = [name for name in names if name not in SLO_WINDOWS]
    if unknown:
        raise SloError(f"unknown SLO window(s) {', '.join(map(repr, unknown))}: use {', '.join(SLO_WINDOWS)}")
    spans = {}
    for name in names:
        window = SLO_WINDOWS[name]
        end = bucket_start(now, window.tier)
        spans[name] = AvailabilitySpan(window.tier, end - window.length, end)
    return spans


def split_spans(
    spans: Mapping[str, AvailabilitySpan], moment: datetime
) -> tuple[dict[str, AvailabilitySpan], dict[str, AvailabilitySpan]]:
    """Each span cut where its tier's bucket holding ``moment`` starts: (the buckets before, the buckets from
    there on). Together they hold exactly the span's buckets; a name with no bucket on one side is left out of it.

    The burn-rate rules read the first part once a minute for many sources and the second on every poll.
    """
    moment = aware_utc(moment, "moment")
    before: dict[str, AvailabilitySpan] = {}
    after: dict[str, AvailabilitySpan] = {}
    for name, span in spans.items():
        cut = min(max(bucket_start(moment, span.tier), span.start), span.end)
        if span.start < cut:
            before[name] = AvailabilitySpan(span.tier, span.start, cut)
        if cut < span.end:
            after[name] = AvailabilitySpan(span.tier, cut, span.end)
    return before, after


def window_counts(
    store: MetricStore, source: str, now: datetime, names: Sequence[str] = tuple(SLO_WINDOWS)
) -> dict[str, Counts]:
    """Good (up polls) and total (polls) per named window for ``source``, in one store call."""
    spans = slo_spans(now, names)
    totals = store.availability_totals(source, list(spans.values()))
    return {name: Counts(good=total.up, total=total.polls) for name, total in zip(spans, totals, strict=True)}
