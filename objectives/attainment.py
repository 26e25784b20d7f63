"""Attainment, remaining error budget and burn rates of an objective, read from the metric store.

The arithmetic is ``metrics.slo``'s; this module only gathers good/total counts:

- availability: good = answered polls, total = polls, from the availability buckets of every covered
  source merged, the period and the 1 h, 6 h, 1 d and 3 d windows (``metrics.slo_windows``) in ONE
  ``availability_totals_of`` call per objective;
- metric: good = minutes whose 1-minute rollup mean meets the bound, total = minutes with a rollup,
  counted by the store for all covered sources over the period and the windows in ONE
  ``good_minutes_of`` read (the same numbers as reading every minute out and counting it here).

Both read the windows as complete buckets before ``now`` (the current minute is not counted yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from metrics import slo
from metrics.availability import bucket_start
from metrics.slo_windows import SLO_WINDOWS, slo_spans
from metrics.stores.base import AvailabilitySpan, MetricStore

BURN_WINDOWS = ("1h", "6h", "1d", "3d")  # what pages and the API show


@dataclass(frozen=True)
class Attainment:
    """Where an objective stands as of ``at``: over its period and over the burn windows."""

    at: datetime
    period_start: datetime
    period_end: datetime
    target_percent: float
    good: int
    total: int
    attainment_percent: float | None  # None: no event in the period yet
    remaining_budget_percent: float | None  # of the period's budget: 100 untouched, 0 spent, < 0 overspent
    burn_rates: dict[str, float | None] = field(default_factory=dict)  # None: no event in the window
    window_counts: dict[str, slo.Counts] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.attainment_percent is None:
            return None
        return self.attainment_percent >= self.target_percent

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "period": {"start": self.period_start.isoformat(), "end": self.period_end.isoformat()},
            "target_percent": self.target_percent,
            "good": self.good,
            "total": self.total,
            "attainment_percent": self.attainment_percent,
            "remaining_budget_percent": self.remaining_budget_percent,
            "met": self.met,
            "burn_rates": dict(self.burn_rates),
        }


def summarize(
    objective: slo.Objective,
    period: Counts,
    windows: dict[str, slo.Counts],
    at: datetime,
    start: datetime,
    end: datetime,
) -> Attainment:
    """The numbers pages show, from counts; the one place they are computed."""
    rates: dict[str, float | None] = {}
    for name in BURN_WINDOWS:
        counts = windows.get(name)
        rates[name] = None if counts is None or counts.total == 0 else float(slo.burn_rate(counts, objective, name))
    empty = period.total == 0
    return Attainment(
        at=at,
        period_start=start,
        period_end=end,
        target_percent=float(objective.target_percent),
        good=period.good,
        total=period.total,
        attainment_percent=None if empty else float(slo.attainment(period) * 100),
        remaining_budget_percent=None if empty else float(slo.remaining_budget(period, objective) * 100),
        burn_rates=rates,
        window_counts=windows,
    )


Counts = slo.Counts


def period_span(start: datetime, end: datetime, now: datetime) -> AvailabilitySpan:
    """The period's hour buckets up to ``now`` (the current partial hour included).

    From the hour ``start`` falls in: a rolling period (``start`` = now - N days, rarely on the hour) counts up to
    59 min 59 s before its start (docs/objectives.md, "What a period counts"). Minute buckets could make it exact
    only where a retention policy still keeps them (it may keep them a day), and counting too little where they
    are gone would be silent.
    """
    last = min(end, bucket_start(now, "1h") + timedelta(hours=1))
    return AvailabilitySpan("1h", bucket_start(start, "1h"), max(last, bucket_start(start, "1h") + timedelta(hours=1)))


def minute_period(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """What a metric objective's period counts: the 1-minute rollups starting from ``start`` up to the current
    minute (not counted yet), as [low, high)."""
    return start, min(end, bucket_start(now, "1m"))


def availability_counts(
    store: MetricStore, slugs: Sequence[str], start: datetime, end: datetime, now: datetime, names: Sequence[str]
) -> tuple[slo.Counts, dict[str, slo.Counts]]:
    """Period and window counts of the sources merged, in one store call."""
    spans = slo_spans(now, names) if names else {}
    totals = store.availability_totals_of(list(slugs), [period_span(start, end, now), *spans.values()])
    period = slo.Counts(good=totals[0].up, total=totals[0].polls)
    return period, {name: slo.Counts(good=t.up, total=t.polls) for name, t in zip(spans, totals[1:], strict=True)}


def rollup_reader(store: MetricStore) -> Any:
    """The store that reads rollups (an extension of the contract both stores implement, behind the cache)."""
    return getattr(store, "backend_store", store)


def good_minute_counts(
    store: MetricStore,
    slugs: Sequence[str],
    metric: str,
    comparison: str,
    bound: float,
    start: datetime,
    end: datetime,
    now: datetime,
    names: Sequence[str],
) -> tuple[slo.Counts, dict[str, slo.Counts]]:
    """Good and total minutes (1-minute rollups of ``metric``) over the period and each window, counted by the
    store in one read (``good_minutes_of``): a 30-day period is 43,200 minute buckets a source, none read out."""
    spans = slo_spans(now, names) if names else {}
    # Windows read minutes even where availability reads hours: good minutes are counted per minute.
    current = bucket_start(now, "1m")
    bounds = [(current - SLO_WINDOWS[name].length, current) for name in spans]
    counted = rollup_reader(store).good_minutes_of(
        slugs, metric, comparison, bound, [minute_period(start, end, now), *bounds]
    )
    windows = {name: slo.Counts(good=good, total=total) for name, (good, total) in zip(spans, counted[1:], strict=True)}
    return slo.Counts(good=counted[0][0], total=counted[0][1]), windows


def measure(
    objective: Any,
    store: MetricStore,
    now: datetime,
    names: Sequence[str] = BURN_WINDOWS,
    slugs: Sequence[str] | None = None,
) -> Attainment:
    """``objective`` (an ``objectives.models.Objective``) as of ``now``; ``slugs`` narrows it to some sources.

    Store round trips: one, for an availability objective and for a metric one.
    """
    start, end = objective.period(now)
    if slugs is None:
        slugs = [source.slug for source in objective.covered_sources()]
    target = objective.slo()
    if not slugs:
        empty = slo.Counts(0, 0)
        return summarize(target, empty, {name: empty for name in names}, now, start, end)
    if objective.kind == objective.Kind.METRIC:
        period, windows = good_minute_counts(
            store, slugs, objective.metric, objective.operator, float(objective.bound), start, end, now, names
        )
    else:
        period, windows = availability_counts(store, slugs, start, end, now, names)
    return summarize(target, period, windows, now, start, end)


def over_range(
    objective: Any, store: MetricStore, start: datetime, end: datetime, slugs: Sequence[str] | None = None
) -> Attainment:
    """Attainment and budget of ``objective`` over [start, end) instead of its period (reports)."""
    if slugs is None:
        slugs = [source.slug for source in objective.covered_sources()]
    target = objective.slo()
    if not slugs:
        return summarize(target, slo.Counts(0, 0), {}, end, start, end)
    if objective.kind == objective.Kind.METRIC:
        period, _ = good_minute_counts(
            store, slugs, objective.metric, objective.operator, float(objective.bound), start, end, end, ()
        )
    else:
        period, _ = availability_counts(store, slugs, start, end, end, ())
    return summarize(target, period, {}, end, start, end)


def budget_series(objective: Any, store: MetricStore, now: datetime, days: int | None = None) -> list[dict[str, Any]]:
    """Remaining budget (percent) through the period so far, at most 15 points, for the budget chart.

    The period ``measure`` counts (``period_span`` for availability, ``minute_period`` for a metric objective) cut
    into spans and read in one store call (``availability_counts_of``, ``good_minutes_of``), then added up span by
    span: so the last point is the budget left the page shows, counted on the same events.
    """
    start, end = objective.period(now)
    slugs = [source.slug for source in objective.covered_sources()]
    if not slugs:
        return []
    metric = objective.kind == objective.Kind.METRIC
    if metric:
        low, high = minute_period(start, end, now)
    else:
        whole = period_span(start, end, now)
        low, high = whole.start, whole.end
    days = days or objective.window_days
    step = timedelta(days=-(-days // 15))  # at most 15 points (MAX_AVAILABILITY_SPANS is 16): one read
    cuts: list[tuple[datetime, datetime]] = []
    moment = low
    while moment < min(high, now) and len(cuts) < 16:
        cuts.append((moment, min(moment + step, high)))
        moment = cuts[-1][1]
    if not cuts:
        return []
    if metric:
        counted = rollup_reader(store).good_minutes_of(
            slugs, objective.metric, objective.operator, float(objective.bound), cuts
        )
    else:
        spans = [AvailabilitySpan("1h", a, b) for a, b in cuts]
        counted = [(up, polls) for polls, up in store.availability_counts_of(slugs, spans)]
    target = objective.slo()
    good = total = 0
    series = []
    for (_low, stop), (span_good, span_total) in zip(cuts, counted, strict=True):
        good += span_good
        total += span_total
        counts = slo.Counts(good=good, total=total)
        remaining = None if total == 0 else float(slo.remaining_budget(counts, target) * 100)
        series.append({"at": stop.isoformat(), "remaining_budget_percent": remaining})
    return series
