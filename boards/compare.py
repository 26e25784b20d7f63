"""The region comparison: one metric, every region overlaid, each region against the median of the others.

For each bucket, a region's value is the mean of its sources' bucket means (most regions have one
source); its deviation is ``(value - median of the other regions) / |median|`` in percent (``null``
when fewer than two other regions have a value, or the median is 0). The ranking orders regions by
their mean absolute deviation over the range, largest first: "is eu-west's wait time high compared
with the others?" is the top of the list. One ``series_many`` call for the whole view (one per 200 sources
beyond that: the most one call takes).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.conf import settings

from boards.data import TimeRange, sig
from metrics.rollups import bucket_for_range, tier_for_range
from metrics.stores.arguments import MAX_SERIES_KEYS
from metrics.stores.base import MetricStore, SeriesBucket, SeriesKey
from pollers.models import Source

MIN_OTHERS = 2


def deviation(value: float | None, others: list[float]) -> float | None:
    """Percent above (+) or below (-) the median of ``others``."""
    if value is None or len(others) < MIN_OTHERS:
        return None
    median = statistics.median(others)
    if median == 0:
        return None
    return (value - median) / abs(median) * 100


def compare(metric: str, sources: list[Source], time_range: TimeRange, store: MetricStore) -> dict[str, Any]:
    regions: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        regions[source.region or source.slug].append(source.slug)
    tier = tier_for_range(time_range.start, time_range.end)
    bucket = bucket_for_range(time_range.start, time_range.end, tier, settings.BOARDS_MAX_POINTS)
    keys = [SeriesKey(slug, metric) for slugs in regions.values() for slug in slugs]
    found: dict[SeriesKey, list[SeriesBucket]] = {}
    # One call per MAX_SERIES_KEYS sources (the most series_many takes): one call up to 200 sources, and a
    # viewer who may read more (a superuser, a large organisation) gets the comparison rather than a 500.
    for first in range(0, len(keys), MAX_SERIES_KEYS):
        chunk = keys[first : first + MAX_SERIES_KEYS]
        found.update(store.series_many(chunk, time_range.start, time_range.end, bucket, tier))
    axis = sorted({int(b.start.timestamp()) for buckets in found.values() for b in buckets})
    position = {t: i for i, t in enumerate(axis)}
    values: dict[str, list[float | None]] = {}
    for region, slugs in regions.items():
        sums: list[list[float]] = [[] for _ in axis]
        for slug in slugs:
            for b in found.get(SeriesKey(slug, metric), []):
                sums[position[int(b.start.timestamp())]].append(b.avg)
        values[region] = [statistics.fmean(parts) if parts else None for parts in sums]
    rows: list[dict[str, Any]] = []
    spread: dict[str, float | None] = {}
    for region, own in values.items():
        devs: list[float | None] = []
        for i, value in enumerate(own):
            others = [v[i] for r, v in values.items() if r != region and v[i] is not None]
            devs.append(deviation(value, [o for o in others if o is not None]))
        known = [d for d in devs if d is not None]
        spread[region] = statistics.fmean(abs(d) for d in known) if known else None
        latest_index = max((i for i, v in enumerate(own) if v is not None), default=None)
        rows.append(
            {
                "region": region,
                "sources": regions[region],
                "avg": [sig(v) for v in own],
                "deviation": [sig(d) for d in devs],
                "mean_abs_deviation": sig(spread[region]),
                "mean_deviation": sig(statistics.fmean(known)) if known else None,
                "latest": sig(own[latest_index]) if latest_index is not None else None,
                "latest_deviation": sig(devs[latest_index]) if latest_index is not None else None,
            }
        )
    ranking = sorted(spread, key=lambda r: (spread[r] is None, -(spread[r] or 0.0), r))
    return {
        "metric": metric,
        "tier": tier,
        "bucket": int(bucket.total_seconds()),
        "range": {
            "name": time_range.name,
            "from": int(time_range.start.timestamp()),
            "to": int(time_range.end.timestamp()),
        },
        "t": axis,
        "regions": sorted(rows, key=lambda r: r["region"]),
        "ranking": ranking,
        "generated_at": datetime.now().astimezone().isoformat(),
    }
