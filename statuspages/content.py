"""What a status page shows, built once and cached: the only place the public page reads models and the store.

``page_content(page)`` returns a ``PageContent`` made of plain values: display names, states, day bars,
incidents and maintenance windows with their Markdown already sanitised. Nothing else of a source gets
in: no slug, URL, payload, error message or error kind, and a metric value only for a component that
opted in to that one metric. Templates and the JSON state endpoint read only this.

A cold build costs a fixed number of round trips whatever the number of components: 7 database
queries (components with sources, windows with components, incidents with updates and components) and
one or two metric store reads (every source's 90 day bars at once; the latest values only when a
component opted in to a metric). It is cached for ``STATUS_PAGE_CACHE_SECONDS`` under the page's and
the health generations (statuspages/generations.py), so an edit or a health change shows at once.
"""

from __future__ import annotations

import enum
import hashlib
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, Prefetch, Q, Value, When
from django.utils import timezone
from django.utils.safestring import SafeString

from metrics.availability import uptime_percent
from metrics.stores import get_store
from metrics.stores.base import AvailabilityDay, StoreError
from statuspages import generations
from statuspages.markdown import render
from statuspages.models import Component, Incident, IncidentStatus, IncidentUpdate, MaintenanceWindow, StatusPage
from statuspages.state import OVERALL_LABELS, State, component_state, overall_state

BAR_DAYS = 90
PAST_INCIDENT_DAYS = 14
MAX_INCIDENTS = 30
MAX_WINDOWS = 20

# Day bar colour bands by uptime %: the lowest bound met names the class (statuspages.css).
BANDS: tuple[tuple[float, str], ...] = ((99.9, "full"), (99.0, "high"), (95.0, "mid"), (0.0, "low"))


def percent_text(uptime: float | None) -> str:
    """Uptime to two decimals, rounded down: 99.999 % reads 99.99, never 100."""
    if uptime is None:
        return ""
    floored = math.floor(uptime * 100) / 100
    return f"{floored:.2f}".rstrip("0").rstrip(".")


def band(uptime: float | None) -> str:
    if uptime is None:
        return "none"
    return next(name for bound, name in BANDS if uptime >= bound)


@dataclass(frozen=True)
class DayBar:
    day: date
    polls: int
    down: int
    uptime: float | None  # None: no polls that day

    @property
    def level(self) -> str:
        return band(self.uptime)

    @property
    def uptime_text(self) -> str:
        return percent_text(self.uptime)


@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float
    unit: str

    @property
    def text(self) -> str:
        return f"{self.value:.6g}"


@dataclass(frozen=True)
class ComponentView:
    id: int
    name: str
    description: str
    state: State
    bars: list[DayBar]
    uptime: float | None  # over the bars' days
    metric: MetricValue | None

    @property
    def uptime_text(self) -> str:
        return percent_text(self.uptime)


@dataclass(frozen=True)
class UpdateView:
    status: str
    status_label: str
    body: SafeString
    created_at: datetime


@dataclass(frozen=True)
class IncidentView:
    id: int
    title: str
    impact: str
    status: str
    status_label: str
    started_at: datetime
    resolved_at: datetime | None
    components: list[str]
    updates: list[UpdateView]  # newest first


@dataclass(frozen=True)
class MaintenanceView:
    id: int
    title: str
    body: SafeString
    starts_at: datetime
    ends_at: datetime
    phase: str  # scheduled, in_progress
    components: list[str]


@dataclass(frozen=True)
class PageContent:
    page_id: int
    overall: State
    components: list[ComponentView]
    open_incidents: list[IncidentView]
    past_incidents: list[IncidentView]
    maintenance: list[MaintenanceView]
    description: SafeString
    generated_at: datetime
    bars_available: bool = True  # False when the metric store could not be read (bars shown as unknown)
    version: str = field(default="")

    @property
    def overall_label(self) -> str:
        return OVERALL_LABELS[self.overall]

    def state_document(self) -> dict[str, object]:
        """What the page's script polls (``state.json``): enough to tell that something changed."""
        return {
            "version": self.version,
            "overall": {"state": self.overall.value, "label": self.overall_label},
            "components": [{"id": c.id, "state": c.state.value, "label": c.state.label} for c in self.components],
            "generated_at": self.generated_at.isoformat(),
        }


def cache_seconds() -> int:
    return int(settings.STATUS_PAGE_CACHE_SECONDS)


def content_scopes(page: StatusPage) -> list[str]:
    """The generation scopes the page's cached content is built under (statuspages/generations.py)."""
    return [generations.page_scope(page.pk), generations.HEALTH]


def content_key(page_id: int, generation: str) -> str:
    return f"statuspages:content:{page_id}:{generation}"


def version_key(page_id: int) -> str:
    """Where the cached content's ``version`` is kept beside it, alone and stamped with its generation
    (statuspages/generations.py ``stamped``): a reader that only needs to know which content is current
    (the cached HTML, statuspages/public.py) reads a few bytes, not the content."""
    return f"statuspages:version:{page_id}"


class _Unread(enum.Enum):
    UNREAD = "unread"


def page_content(
    page: StatusPage, now: datetime | None = None, *, generation: str | _Unread | None = _Unread.UNREAD
) -> PageContent:
    """The page's content from the cache, else built and cached (see the module docstring).

    ``generation``: the current generation of ``content_scopes(page)`` when the caller already read it
    (one round trip saved); None when the cache could not say.
    """
    if now is not None:
        return build(page, now)
    if generation is _Unread.UNREAD:
        generation = generations.current(*content_scopes(page))
    if generation is None:  # the cache cannot say which content is current: build, do not cache
        return build(page, timezone.now())
    key = content_key(page.pk, generation)
    cached = cache.get(key)
    if isinstance(cached, PageContent):
        return cached
    content = build(page, timezone.now())
    # Together, with the same life: a version found means this content is the cached one.
    cache.set_many({key: content, version_key(page.pk): (generation, content.version)}, cache_seconds())
    return content


def build(page: StatusPage, now: datetime) -> PageContent:
    components = list(
        page.components.published().prefetch_related("sources").order_by("order", "name", "pk")
    )  # 2 queries
    published_names = {c.pk: c.name for c in components}
    windows = list(
        page.maintenance_windows.filter(ends_at__gt=now)
        .order_by("starts_at", "pk")
        .prefetch_related("components")[:MAX_WINDOWS]
    )  # 2 queries
    in_maintenance = {c.pk for w in windows if w.starts_at <= now for c in w.components.all()}
    incidents = list(
        page.incidents.visible()
        .filter(~Q(status=IncidentStatus.RESOLVED) | Q(resolved_at__gte=now - timedelta(days=PAST_INCIDENT_DAYS)))
        # Open ones first, so the cap drops old resolved incidents, never an ongoing one that began long ago.
        .alias(resolved_last=Case(When(status=IncidentStatus.RESOLVED, then=Value(1)), default=Value(0)))
        .order_by("resolved_last", "-started_at", "-pk")
        .prefetch_related(
            Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-created_at", "-pk")), "components"
        )[:MAX_INCIDENTS]
    )  # 3 queries

    slugs = [source.slug for c in components for source in c.shown_sources()]
    days, bars_available = _days(slugs, now)
    latest = _latest_values(components)

    views = [
        ComponentView(
            id=c.pk,
            name=c.name,
            description=c.description,
            state=component_state(c.shown_sources(), in_maintenance=c.pk in in_maintenance, now=now),
            bars=(bars := _merge_days([days.get(s.slug, []) for s in c.shown_sources()], now)),
            uptime=uptime_percent(sum(b.polls for b in bars), sum(b.polls - b.down for b in bars)),
            metric=latest.get(c.pk),
        )
        for c in components
    ]
    incident_views = [_incident(incident, published_names) for incident in incidents]
    content = PageContent(
        page_id=page.pk,
        overall=overall_state(v.state for v in views),
        components=views,
        open_incidents=[i for i in incident_views if i.status != IncidentStatus.RESOLVED],
        past_incidents=[i for i in incident_views if i.status == IncidentStatus.RESOLVED],
        maintenance=[_window(w, published_names, now) for w in windows],
        description=render(page.description),
        generated_at=now,
        bars_available=bars_available,
    )
    return _with_version(content)


def _days(slugs: list[str], now: datetime) -> tuple[dict[str, list[AvailabilityDay]], bool]:
    if not slugs:
        return {}, True
    try:
        return get_store().daily_availability_of_sources(slugs, now, BAR_DAYS), True  # 1 round trip
    except StoreError:
        # The page still tells the state; the bars say "no data" rather than the page failing.
        return {}, False


def _merge_days(per_source: list[list[AvailabilityDay]], now: datetime) -> list[DayBar]:
    """One bar per day over all of a component's sources: their polls added (so uptime is of all checks)."""
    first = (now - timedelta(days=BAR_DAYS - 1)).date()
    totals = {first + timedelta(days=offset): [0, 0] for offset in range(BAR_DAYS)}
    for days in per_source:
        for day in days:
            if day.day in totals:
                totals[day.day][0] += day.polls
                totals[day.day][1] += day.down
    return [DayBar(day, polls, down, uptime_percent(polls, polls - down)) for day, (polls, down) in totals.items()]


def _latest_values(components: list[Component]) -> dict[int, MetricValue]:
    """The opted-in metric of each component that has one: from its first source reporting it."""
    opted = [c for c in components if c.show_metric]
    if not opted:
        return {}
    slugs = [source.slug for c in opted for source in c.shown_sources()]
    try:
        latest = get_store().latest_of(slugs)  # 1 round trip, the page's sources only
    except StoreError:
        return {}
    found = {}
    for c in opted:
        for source in c.shown_sources():
            snapshot = latest.get(source.slug)
            value = snapshot.metrics.get(c.show_metric) if snapshot else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[c.pk] = MetricValue(c.show_metric, float(value), c.show_metric_unit)
                break
    return found


def _incident(incident: Incident, published_names: dict[int, str]) -> IncidentView:
    return IncidentView(
        id=incident.pk,
        title=incident.title,
        impact=incident.impact,
        status=incident.status,
        status_label=incident.get_status_display(),
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        # Only published components are named: an unpublished one stays unknown to visitors.
        components=[published_names[c.pk] for c in incident.components.all() if c.pk in published_names],
        updates=[
            UpdateView(u.status, u.get_status_display(), render(u.body), u.created_at) for u in incident.updates.all()
        ],
    )


def _window(window: MaintenanceWindow, published_names: dict[int, str], now: datetime) -> MaintenanceView:
    return MaintenanceView(
        id=window.pk,
        title=window.title,
        body=render(window.body),
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        phase=window.phase(now),
        components=[published_names[c.pk] for c in window.components.all() if c.pk in published_names],
    )


def _with_version(content: PageContent) -> PageContent:
    """The content stamped with a digest of what a visitor would see change (not the bars' counts)."""
    parts = [
        content.overall.value,
        *(f"c{c.id}:{c.state.value}:{c.name}" for c in content.components),
        *(f"i{i.id}:{i.status}:{len(i.updates)}:{i.title}" for i in content.open_incidents + content.past_incidents),
        *(f"m{m.id}:{m.phase}:{m.title}:{m.starts_at.isoformat()}" for m in content.maintenance),
        str(content.description),
    ]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return PageContent(**{**content.__dict__, "version": digest})
