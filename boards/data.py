"""What a board's panels show: their data assembled on the server, for the browser and the API.

Store reads (docs/boards.md, "Where the numbers come from"): each time-series and stat panel makes one
``MetricStore.series_many`` call, from the tier ``metrics.rollups.tier_for_range`` picks for the range
(so a 90-day panel reads 1-day rollups, never raw history), with a bucket giving at most
``BOARDS_MAX_POINTS`` points. Every panel needing latest values (stat, table, bar, status) shares one
``latest_of`` call per board, for the sources the board's panels show. Annotations come from one database
query per board.

Series are sent columnar, one shared time axis per panel (epoch seconds) and one value list per series
(``null`` where a series has no bucket), numbers rounded to 4 significant digits: what uPlot draws, and
small (a 12-panel x 6-source 30-day board is well under 300 KB).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import nh3
from django.conf import settings
from markdown_it import MarkdownIt

from accounts.teams import Action, restrict
from boards import spec
from boards.models import Annotation
from metrics.rollups import bucket_for_range, tier_for_range
from metrics.stores.base import MetricStore, SeriesBucket, SeriesKey, Snapshot, StoreError
from pollers import health
from pollers.models import Source

ALL = "*"
SERIES_PANELS = ("timeseries", "stat")
LATEST_PANELS = ("stat", "table", "bar", "status")
HEALTHY_WORDS = frozenset({"ok", "healthy", "up", "pass", "green"})
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


class RangeError(ValueError):
    """A time range that cannot be drawn; the message says which parameter."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    name: str  # a preset ("24h") or "custom" (zoomed)

    @classmethod
    def parse(cls, name: str | None, start: str | None, end: str | None, now: datetime) -> TimeRange:
        """A preset (``range=7d``, ending now), or ``from``/``to`` in epoch seconds (a zoomed selection)."""
        if start is not None or end is not None:
            try:
                begin = datetime.fromtimestamp(float(start or ""), tz=UTC)
                finish = datetime.fromtimestamp(float(end or ""), tz=UTC)
            except (ValueError, OverflowError, OSError):
                raise RangeError("give both from and to (a zoom), or a range") from None
            if not timedelta(seconds=60) <= finish - begin <= timedelta(days=400):
                raise RangeError("to must be 1 minute to 400 days after from")
            return cls(begin, finish, "custom")
        chosen = name or "24h"
        if chosen not in spec.TIME_RANGES:
            raise RangeError(f"range must be one of {', '.join(spec.TIME_RANGES)}")
        return cls(now - timedelta(seconds=spec.TIME_RANGES[chosen]), now, chosen)


@dataclass
class Context:
    """What every panel of one assembly shares."""

    shown: list[str]  # the slugs of the sources the board's panels show (a subset of what the viewer may read)
    values: dict[str, str]  # variable -> chosen value ("*": all)
    range: TimeRange
    store: MetricStore
    latest: dict[str, Snapshot] | None = None
    store_calls: int = 0
    problems: list[str] = field(default_factory=list)

    def latest_of_shown(self) -> dict[str, Snapshot]:
        """The latest snapshots of the sources the board shows, read once per assembly."""
        if self.latest is None:
            self.store_calls += 1
            self.latest = self.store.latest_of(self.shown)
        return self.latest


def readable_sources(user: Any) -> list[Source]:
    """The sources ``user`` may read (accounts.teams), by slug: what a board may show them."""
    return list(restrict(Source.objects.all(), user, Action.READ).order_by("slug"))


def variable_options(variables: Sequence[Mapping[str, Any]], sources: Sequence[Source]) -> dict[str, list[str]]:
    """The choices of each variable, from the sources the viewer may read."""
    options: dict[str, list[str]] = {}
    for variable in variables:
        kind = variable["kind"]
        if kind == "region":
            found = {s.region for s in sources if s.region}
        elif kind == "tag":
            found = {str(t) for s in sources for t in (s.tags or []) if str(t).strip()}
        else:
            found = {s.slug for s in sources}
        options[variable["name"]] = sorted(found)
    return options


def variable_values(
    variables: Sequence[Mapping[str, Any]], asked: Mapping[str, str], options: Mapping[str, list[str]]
) -> dict[str, str]:
    """Each variable's value: the one asked (when it is an option or "*"), else its default, else "*"."""
    values: dict[str, str] = {}
    for variable in variables:
        name = variable["name"]
        choices = options.get(name, [])
        for candidate in (asked.get(name), variable.get("default")):
            if candidate is not None and (candidate == ALL or candidate in choices):
                values[name] = candidate
                break
        else:
            values[name] = ALL
    return values


def resolve(selectors: Iterable[str], values: Mapping[str, str], sources: Sequence[Source]) -> list[Source]:
    """The sources a panel's selectors name, once each, in the order named (boards.spec.SELECTOR)."""
    chosen: dict[str, Source] = {}
    by_slug = {s.slug: s for s in sources}
    for selector in selectors:
        text = spec.VARIABLE_USE.sub(lambda m: values.get(m.group(1), ALL), selector)
        if text == ALL:
            matched = list(sources)
        elif text.startswith("region:"):
            region = text.removeprefix("region:")
            matched = [s for s in sources if region == ALL or s.region == region]
        elif text.startswith("tag:"):
            tag = text.removeprefix("tag:")
            matched = [s for s in sources if tag == ALL or tag in (s.tags or [])]
        else:
            matched = [by_slug[text]] if text in by_slug else []
        for source in matched:
            chosen.setdefault(source.slug, source)
    return list(chosen.values())


def sig(value: float | None) -> float | None:
    """Four significant digits: what a chart can show, a third of the bytes."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0
    rounded = round(value, 3 - math.floor(math.log10(abs(value))))
    return int(rounded) if rounded == int(rounded) and abs(rounded) < 2**53 else rounded


def columns(
    keys: Sequence[SeriesKey], found: Mapping[SeriesKey, list[SeriesBucket]], band: bool
) -> tuple[list[int], list[dict[str, Any]]]:
    """One time axis for the panel and one aligned value list (and min/max with ``band``) per series."""
    axis = sorted({int(b.start.timestamp()) for key in keys for b in found.get(key, [])})
    position = {t: i for i, t in enumerate(axis)}
    series = []
    for key in keys:
        avg: list[float | None] = [None] * len(axis)
        entry: dict[str, Any] = {"source": key.source, "metric": key.metric, "avg": avg}
        if band:
            low: list[float | None] = [None] * len(axis)
            high: list[float | None] = [None] * len(axis)
            entry["min"], entry["max"] = low, high
        for bucket in found.get(key, []):
            i = position[int(bucket.start.timestamp())]
            avg[i] = sig(bucket.avg)
            if band:
                low[i], high[i] = sig(bucket.min), sig(bucket.max)
        series.append(entry)
    return axis, series


def render_note(text: str) -> str:
    """Markdown with raw HTML off, then cleaned by nh3: nothing a board author writes runs in a viewer's page."""
    return nh3.clean(_markdown.render(text), link_rel="noopener noreferrer nofollow")


def source_state(source: Source, snapshot: Snapshot | None, now: datetime) -> str:
    """A status grid cell: the poll health word (pollers.health), or "error" when fresh data says so."""
    state = health.assess(source, now).state
    if state == health.FRESH and snapshot is not None and isinstance(snapshot.payload, dict):
        reported = snapshot.payload.get("status")
        if isinstance(reported, str) and reported.strip().lower() not in HEALTHY_WORDS:
            return "error"
        return "ok"
    return str(state)


def _series_panel(panel: Mapping[str, Any], chosen: list[Source], ctx: Context) -> dict[str, Any]:
    metrics = panel["metrics"] if panel["type"] == "timeseries" else [panel["metric"]]
    if panel["type"] == "stat":
        chosen = chosen[:1]
    keys = [SeriesKey(s.slug, m) for s in chosen for m in metrics]
    tier = tier_for_range(ctx.range.start, ctx.range.end)
    bucket = bucket_for_range(ctx.range.start, ctx.range.end, tier, settings.BOARDS_MAX_POINTS)
    found: dict[SeriesKey, list[SeriesBucket]] = {}
    if keys:
        ctx.store_calls += 1
        found = ctx.store.series_many(keys, ctx.range.start, ctx.range.end, bucket, tier)
    axis, series = columns(keys, found, bool(panel.get("band")))
    data: dict[str, Any] = {"tier": tier, "bucket": int(bucket.total_seconds()), "t": axis, "series": series}
    if panel["type"] == "stat":
        snapshot = ctx.latest_of_shown().get(chosen[0].slug) if chosen else None
        value = snapshot.metrics.get(panel["metric"]) if snapshot is not None else None
        first = next((v for v in (series[0]["avg"] if series else []) if v is not None), None)
        data["value"] = sig(value)
        data["delta"] = sig(value - first) if value is not None and first is not None else None
        data["source"] = chosen[0].slug if chosen else None
    return data


def _latest_panel(panel: Mapping[str, Any], chosen: list[Source], ctx: Context, now: datetime) -> dict[str, Any]:
    latest = ctx.latest_of_shown()
    kind = panel["type"]
    if kind == "table":
        return {
            "columns": panel["metrics"],
            "rows": [
                {
                    "source": s.slug,
                    "values": [
                        sig(latest[s.slug].metrics.get(m)) if s.slug in latest else None for m in panel["metrics"]
                    ],
                }
                for s in chosen
            ],
        }
    if kind == "bar":
        bars = [
            {"source": s.slug, "value": sig(latest[s.slug].metrics.get(panel["metric"])) if s.slug in latest else None}
            for s in chosen
        ]
        return {"metric": panel["metric"], "bars": bars}
    return {"cells": [{"source": s.slug, "state": source_state(s, latest.get(s.slug), now)} for s in chosen]}


def annotations_for(sources: Sequence[Source], start: datetime, end: datetime) -> list[Annotation]:
    ids = [s.pk for s in sources if s.pk is not None]
    if not ids:
        return []
    found = Annotation.objects.covering(ids, start, end).select_related("team", "source", "created_by")
    return list(found.order_by("at", "pk")[:500])


def assemble(
    document: Mapping[str, Any],
    sources: list[Source],
    asked: Mapping[str, str],
    time_range: TimeRange,
    store: MetricStore,
    now: datetime,
) -> dict[str, Any]:
    """Every panel's data for one board view; a store outage marks the panels it hit, not the board."""
    options = variable_options(document.get("variables", []), sources)
    values = variable_values(document.get("variables", []), asked, options)
    # Every panel's sources first: the one latest read covers what the board shows, not all the viewer may read.
    resolved = {
        panel["id"]: resolve(panel["sources"], values, sources)
        for panel in document.get("panels", [])
        if panel["type"] != "note"
    }
    # The spec bounds a time-series panel's selectors x metrics, but "*", "region:" or "tag:" may name many
    # sources: a panel charts its first sources up to MAX_SERIES_PER_PANEL series and says how many it left out.
    chosen_by_panel: dict[str, list[Source]] = {}
    omitted: dict[str, int] = {}
    for panel in document.get("panels", []):
        if panel["id"] not in resolved:
            continue
        chosen = resolved[panel["id"]]
        if panel["type"] == "timeseries":
            fits = spec.MAX_SERIES_PER_PANEL // len(panel["metrics"])
            if len(chosen) > fits:
                omitted[panel["id"]] = len(chosen) - fits
                chosen = chosen[:fits]
        chosen_by_panel[panel["id"]] = chosen
    shown = list(dict.fromkeys(s.slug for chosen in chosen_by_panel.values() for s in chosen))
    ctx = Context(shown=shown, values=values, range=time_range, store=store)
    panels: dict[str, Any] = {}
    for panel in document.get("panels", []):
        kind = panel["type"]
        entry: dict[str, Any] = {"type": kind}
        try:
            if kind == "note":
                entry["html"] = render_note(panel["text"])
            else:
                chosen = chosen_by_panel[panel["id"]]
                entry["sources"] = [s.slug for s in chosen]
                if panel["id"] in omitted:
                    entry["omitted_sources"] = omitted[panel["id"]]
                if kind in SERIES_PANELS:
                    entry.update(_series_panel(panel, chosen, ctx))
                else:
                    entry.update(_latest_panel(panel, chosen, ctx, now))
        except StoreError:
            entry["error"] = "The metric store did not answer; retrying at the next refresh."
        panels[panel["id"]] = entry
    charted = {
        s.slug: s for pid, chosen in chosen_by_panel.items() for s in chosen if panels[pid]["type"] in SERIES_PANELS
    }
    markers = [a.as_dict() for a in annotations_for(list(charted.values()), time_range.start, time_range.end)]
    return {
        "range": {
            "name": time_range.name,
            "from": int(time_range.start.timestamp()),
            "to": int(time_range.end.timestamp()),
        },
        "variables": {"values": values, "options": options},
        "annotations": markers,
        "panels": panels,
        "store_calls": ctx.store_calls,
        "generated_at": now.isoformat(),
    }
