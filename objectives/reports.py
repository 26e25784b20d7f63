"""Availability reports per source or per team over a month or any range (docs/objectives.md, "Reports").

Everything is derived from the availability buckets (metrics.availability), the one record of poll
outcomes, with up to three store reads per source: its hour and day buckets with histograms (the slowest
hours), and its minute buckets (ranges up to ``MINUTE_RANGE``) without them; availability, outages and the
slowest hours count the finest of them still kept (``kept``; the slowest hours stop at hours, and a day
whose hours were pruned is ranked whole). An **outage** is a run of buckets in which every poll
failed: it starts with the first all-down bucket after an answered poll and ends where the next bucket
with an answered poll starts (buckets without polls continue the state before them). Ranges up to
``MINUTE_RANGE`` read minute buckets (outages to the minute), longer ones hour buckets; where retention
pruned those, the next coarser tier counts the same polls.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, timedelta

from accounts.models import Team
from metrics import slo
from metrics.availability import TIER_SECONDS, bucket_start, percentile, uptime_percent, worst_error_kind
from metrics.stores.base import AvailabilityBucket, MetricStore
from objectives.attainment import over_range, summarize
from objectives.models import Objective
from pollers.models import Source

MINUTE_RANGE = timedelta(days=32)
MAX_RANGE_DAYS = 366
SLOWEST_HOURS = 5


class ReportRangeError(ValueError):
    """A range a report cannot cover: reversed, empty, longer than a year, or not a real month."""


@dataclass(frozen=True)
class Outage:
    source: str
    start: datetime
    end: datetime
    ongoing: bool  # still down at the end of the range
    error_kind: str | None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class SlowHour:
    source: str
    start: datetime
    p95_ms: float
    polls: int
    width: timedelta = timedelta(hours=1)  # a day where retention pruned its hours (``kept``)


@dataclass(frozen=True)
class ObjectiveLine:
    name: str
    target_percent: float
    attainment_percent: float | None
    remaining_budget_percent: float | None
    met: bool | None


@dataclass
class Incidents:
    outages: list[Outage] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.outages)

    @property
    def total(self) -> timedelta:
        return sum((o.duration for o in self.outages), timedelta())

    @property
    def longest(self) -> timedelta | None:
        return max((o.duration for o in self.outages), default=None)

    @property
    def mttr(self) -> timedelta | None:
        """Mean time to recovery: the mean duration of the outages that ended within the range."""
        ended = [o.duration for o in self.outages if not o.ongoing]
        return sum(ended, timedelta()) / len(ended) if ended else None


@dataclass
class SourceLine:
    slug: str
    name: str
    polls: int
    up: int
    incidents: Incidents
    slowest: list[SlowHour]

    @property
    def availability_percent(self) -> float | None:
        return uptime_percent(self.polls, self.up)


@dataclass
class Report:
    title: str
    start: datetime
    end: datetime  # the end asked for, or the moment the report was made for a range still under way
    sources: list[SourceLine]
    objectives: list[ObjectiveLine]
    generated_at: datetime
    asked_end: datetime | None = None  # the end asked for, when later than ``end``

    @property
    def to_date(self) -> bool:
        """Whether the range asked for is still under way: the report covers it up to when it was made."""
        return self.asked_end is not None and self.end < self.asked_end

    def days(self) -> str:
        """The days covered, as people write them: "1-7 December 2026, to date" for a range under way."""
        first, last = self.start.astimezone(UTC).date(), (self.end - timedelta(microseconds=1)).astimezone(UTC).date()
        if first == last:
            text = f"{first.day} {first:%B %Y}"
        elif (first.year, first.month) == (last.year, last.month):
            text = f"{first.day}-{last.day} {last:%B %Y}"
        elif first.year == last.year:
            text = f"{first.day} {first:%B} - {last.day} {last:%B %Y}"
        else:
            text = f"{first.day} {first:%B %Y} - {last.day} {last:%B %Y}"
        return f"{text}, to date" if self.to_date else text

    @property
    def polls(self) -> int:
        return sum(line.polls for line in self.sources)

    @property
    def availability_percent(self) -> float | None:
        return uptime_percent(self.polls, sum(line.up for line in self.sources))

    @property
    def incidents(self) -> Incidents:
        return Incidents([o for line in self.sources for o in line.incidents.outages])

    @property
    def slowest(self) -> list[SlowHour]:
        hours = [hour for line in self.sources for hour in line.slowest]
        return sorted(hours, key=lambda h: (-h.p95_ms, h.start, h.source))[:SLOWEST_HOURS]


# --- ranges -----------------------------------------------------------------------------------------


def month_range(month: str) -> tuple[datetime, datetime]:
    """ "2026-11" as [2026-11-01, 2026-12-01) UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ReportRangeError(f"month must be written YYYY-MM, got {month[:20]!r}") from None
    if (start.year, start.month) == (MAXYEAR, 12):  # its end, the first of the next month, is no date
        raise ReportRangeError(f"month must be before {MAXYEAR}-12")
    return start, (start + timedelta(days=32)).replace(day=1)


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of ``first`` to the end of ``last`` (both included), UTC."""
    if last < first:
        raise ReportRangeError("the last day comes before the first")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ReportRangeError(f"a report covers at most {MAX_RANGE_DAYS} days")
    if last == date.max:  # its end, the next midnight, is no date
        raise ReportRangeError(f"the last day must be before {date.max.isoformat()}")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return start, datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)


def elapsed(start: datetime, end: datetime, now: datetime) -> datetime:
    """Where a report over [start, end) stops as of ``now``: at ``end``, or at ``now`` for a range still under way,
    so days to come are neither counted nor shown and the attainment is judged on what has elapsed."""
    if now <= start:
        raise ReportRangeError(
            f"the range has not begun yet (it starts {start:%Y-%m-%d} UTC): a report covers the past"
        )
    return min(end, now)


def previous_month(now: datetime) -> str:
    first = now.astimezone(UTC).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


# --- outages ----------------------------------------------------------------------------------------


def outages(slug: str, buckets: Iterable[AvailabilityBucket], width: timedelta, end: datetime) -> list[Outage]:
    """The outages in ``buckets`` (one tier, any order; buckets without polls may be absent)."""
    found: list[Outage] = []
    began: datetime | None = None
    kinds: dict[str, int] = {}
    for bucket in sorted((b for b in buckets if b.polls), key=lambda b: b.start):
        if bucket.up == 0:
            if began is None:
                began, kinds = bucket.start, {}
            for kind, n in bucket.errors.items():
                kinds[kind] = kinds.get(kind, 0) + n
        elif began is not None:
            found.append(Outage(slug, began, bucket.start, False, worst_error_kind(kinds)))
            began = None
    if began is not None:
        found.append(Outage(slug, began, max(end, began + width), True, worst_error_kind(kinds)))
    return found


def slowest_hours(slug: str, buckets: Iterable[AvailabilityBucket], count: int = SLOWEST_HOURS) -> list[SlowHour]:
    """The ``count`` buckets with the highest p95 latency: hour buckets, and day buckets standing in for pruned
    hours (``kept``), each with its width."""
    hours = []
    for bucket in buckets:
        p95 = percentile(bucket.latency, 95)
        if p95 is not None:
            hours.append(SlowHour(slug, bucket.start, p95, bucket.polls, timedelta(seconds=TIER_SECONDS[bucket.tier])))
    return sorted(hours, key=lambda h: (-h.p95_ms, h.start))[:count]


# --- building ---------------------------------------------------------------------------------------


def kept(finest_first: Sequence[tuple[str, Sequence[AvailabilityBucket]]]) -> list[AvailabilityBucket]:
    """The buckets of several tiers of one source as one record: each coarser bucket only where no finer
    bucket lies in it.

    Retention prunes a tier on a bucket boundary of the next coarser one, and every poll is counted into
    every tier by one statement, so a coarser bucket with no finer bucket in it is one whose finer buckets
    were pruned (the default policy keeps minute buckets 30 days: by the 1st, the first day of a 31-day
    month is gone from them), and it stands in for them whole.
    """
    merged: list[AvailabilityBucket] = []
    for tier, buckets in finest_first:
        covered = {bucket_start(bucket.start, tier) for bucket in merged}
        merged.extend(bucket for bucket in buckets if bucket_start(bucket.start, tier) not in covered)
    return sorted(merged, key=lambda bucket: bucket.start)


def source_line(store: MetricStore, source: Source, start: datetime, end: datetime, now: datetime) -> SourceLine:
    # Day buckets stand in for the hours a shorter hour retention pruned (a long range), here and in the slowest
    # hours: with their histograms (at most a row per day and latency bin), so those hours are ranked as a day.
    hours_and_days: list[tuple[str, Sequence[AvailabilityBucket]]] = [
        ("1h", store.availability(source.slug, "1h", start, end, latency=True)),
        ("1d", store.availability(source.slug, "1d", start, end, latency=True)),
    ]
    tiers = list(hours_and_days)
    width = timedelta(hours=1)
    if end - start <= MINUTE_RANGE:
        tiers.insert(0, ("1m", store.availability(source.slug, "1m", start, end, latency=False)))
        width = timedelta(minutes=1)
    buckets = kept(tiers)
    polls = sum(b.polls for b in buckets)
    up = sum(b.up for b in buckets)
    return SourceLine(
        slug=source.slug,
        name=source.name,
        polls=polls,
        up=up,
        incidents=Incidents(outages(source.slug, buckets, width, min(end, now))),
        # An hour bucket counts the polls of its minutes (one statement counts a poll into every tier), so the
        # hours and days ``kept`` count the same polls as ``buckets`` without reading minute histograms.
        slowest=slowest_hours(source.slug, kept(hours_and_days)),
    )


def objective_line(
    store: MetricStore,
    objective: Objective,
    start: datetime,
    end: datetime,
    lines: Mapping[str, SourceLine],
    slugs: Sequence[str] | None = None,
) -> ObjectiveLine:
    """``objective`` over the range (over ``slugs`` alone when given: a source's share).

    An availability objective whose sources all have a line in the report counts the lines' polls: the same
    polls, and still whole where retention pruned the hour buckets ``over_range`` reads (a policy may keep
    them 30 days), so the objective never disagrees with the availability of the sources it covers.
    """
    covered = list(slugs) if slugs is not None else [source.slug for source in objective.covered_sources()]
    if objective.kind == Objective.Kind.AVAILABILITY and all(slug in lines for slug in covered):
        counts = slo.Counts(good=sum(lines[s].up for s in covered), total=sum(lines[s].polls for s in covered))
        result = summarize(objective.slo(), counts, {}, end, start, end)
    else:
        result = over_range(objective, store, start, end, slugs=covered)
    return ObjectiveLine(
        name=objective.name,
        target_percent=result.target_percent,
        attainment_percent=result.attainment_percent,
        remaining_budget_percent=result.remaining_budget_percent,
        met=result.met,
    )


def build(
    store: MetricStore,
    title: str,
    sources: Sequence[Source],
    objectives: Sequence[Objective],
    start: datetime,
    end: datetime,
    now: datetime,
) -> Report:
    if end <= start:
        raise ReportRangeError("the range is empty")
    asked, end = end, elapsed(start, end, now)
    lines = [source_line(store, source, start, end, now) for source in sources]
    by_slug = {line.slug: line for line in lines}
    objective_lines = [objective_line(store, o, start, end, by_slug) for o in objectives]
    return Report(title, start, end, lines, objective_lines, now, asked_end=asked)


def for_source(store: MetricStore, source: Source, start: datetime, end: datetime, now: datetime) -> Report:
    objectives = [o for o in Objective.objects.with_sources().filter(team=source.team) if o.covers(source)]
    # An objective over a group is reported for this source alone: its share of the group's budget.
    report = build(store, f"Source {source.name}", [source], [], start, end, now)
    lines = {line.slug: line for line in report.sources}
    report.objectives = [objective_line(store, o, start, report.end, lines, slugs=[source.slug]) for o in objectives]
    return report


def for_team(store: MetricStore, team: Team, start: datetime, end: datetime, now: datetime) -> Report:
    sources = list(Source.objects.filter(team=team).order_by("slug"))
    # Every objective's covered sources in one read: each objective line counts its sources' polls.
    objectives = Objective.objects.with_sources().filter(team=team).with_coverage()
    return build(store, f"Team {team.name}", sources, objectives, start, end, now)


# --- CSV --------------------------------------------------------------------------------------------


def hours_minutes(value: timedelta | None) -> str:
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def percent(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def cell(text: str) -> str:
    """A name as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: Report) -> str:
    """One row per source, then one per objective, then the slowest hours; times in UTC, durations in seconds."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["report", cell(report.title), report.start.isoformat(), report.end.isoformat()])
    writer.writerow(
        [
            "source",
            "polls",
            "up",
            "availability_percent",
            "incidents",
            "outage_seconds",
            "longest_seconds",
            "mttr_seconds",
        ]
    )
    for line in report.sources:
        inc = line.incidents
        writer.writerow(
            [
                line.slug,
                line.polls,
                line.up,
                percent(line.availability_percent, 4),
                inc.count,
                int(inc.total.total_seconds()),
                "" if inc.longest is None else int(inc.longest.total_seconds()),
                "" if inc.mttr is None else int(inc.mttr.total_seconds()),
            ]
        )
    writer.writerow(["objective", "target_percent", "attainment_percent", "remaining_budget_percent", "met"])
    for objective in report.objectives:
        writer.writerow(
            [
                cell(objective.name),
                objective.target_percent,
                percent(objective.attainment_percent, 4),
                percent(objective.remaining_budget_percent, 2),
                "" if objective.met is None else str(objective.met).lower(),
            ]
        )
    writer.writerow(["slow_hour_source", "hour_start", "p95_ms", "polls", "width_seconds"])
    for hour in report.slowest:
        width = int(hour.width.total_seconds())
        writer.writerow([hour.source, hour.start.isoformat(), f"{hour.p95_ms:.1f}", hour.polls, width])
    return out.getvalue()
