"""Objectives pages (list, detail with burn-rate table and budget chart) and the availability reports
(printable HTML and CSV). Every page needs a login; what it shows is cut to the teams where the user may
READ (accounts.teams), and anything else answers 404, as if it did not exist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import Team
from accounts.teams import Action, restrict, teams_of
from metrics.slo_windows import SLO_WINDOWS
from metrics.stores import get_store
from objectives import reports
from objectives.attainment import BURN_WINDOWS, budget_series, measure
from objectives.models import Objective
from pollers.models import Source

CHART_WIDTH, CHART_HEIGHT = 480, 120


def visible_objectives(user: Any) -> Any:
    return restrict(Objective.objects.with_sources(), user, Action.READ)


@login_required
@require_GET
def objective_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    store = get_store()
    # Every row's covered sources in one read, which its measure and its "covers no source" flag both use.
    rows = [
        (objective, measure(objective, store, now), objective.uncovered())
        for objective in visible_objectives(request.user).with_coverage()
    ]
    return render(request, "objectives/list.html", {"nav": "objectives", "rows": rows, "windows": BURN_WINDOWS})


@login_required
@require_GET
def objective_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Its covered sources read once: the measure, the budget chart, the list and the flag use them all.
    objective = next(iter(visible_objectives(request.user).filter(pk=pk).with_coverage()), None)
    if objective is None:
        raise Http404("no such objective")
    now = timezone.now()
    store = get_store()
    result = measure(objective, store, now)
    burn = [
        (name, SLO_WINDOWS[name].length, result.window_counts.get(name), result.burn_rates.get(name))
        for name in BURN_WINDOWS
    ]
    series = budget_series(objective, store, now)
    context = {
        "nav": "objectives",
        "objective": objective,
        "result": result,
        "burn": burn,
        "sources": objective.covered_sources(),
        "uncovered": objective.uncovered(),
        "rules": objective.alert_rules.all(),
        "chart": budget_chart(series, result.period_start, result.period_end),
        "series": series,
    }
    return render(request, "objectives/detail.html", context)


def budget_chart(series: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Any] | None:
    """The remaining budget through the period [start, end) as SVG lines (no script: it prints as drawn).

    Each point stands at its moment between the period's start (x = 0) and end (x = width), so a calendar period
    under way fills the chart up to now only, and spans before the first poll (no budget figure yet) stay blank
    rather than being squeezed out by spacing the points by index. A run of one point is drawn as a dot.
    """
    values = [point["remaining_budget_percent"] for point in series if point["remaining_budget_percent"] is not None]
    if not values:
        return None
    low = min(0.0, *values)
    high = max(100.0, *values)
    length = (end - start).total_seconds()

    def x(at: datetime) -> float:
        # The first span starts on the hour at or before the period's start: its points may lie just before it.
        return min(max((at - start).total_seconds() / length, 0.0), 1.0) * CHART_WIDTH

    def y(value: float) -> float:
        return CHART_HEIGHT - (value - low) / (high - low) * CHART_HEIGHT

    runs: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] | None = None
    for point in series:
        value = point["remaining_budget_percent"]
        if value is None:
            run = None  # no figure for this span: a gap, not a line drawn across it
            continue
        if run is None:
            run = []
            runs.append(run)
        run.append((x(datetime.fromisoformat(point["at"])), y(value)))
    return {
        "lines": [" ".join(f"{px:.1f},{py:.1f}" for px, py in run) for run in runs if len(run) > 1],
        "dots": [(f"{run[0][0]:.1f}", f"{run[0][1]:.1f}") for run in runs if len(run) == 1],
        "zero": f"{y(0.0):.1f}",
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "last": values[-1],
    }


# --- reports --------------------------------------------------------------------------------------


def _range(request: HttpRequest, now: datetime) -> tuple[datetime, datetime, str]:
    month = request.GET.get("month", "")
    first, last = request.GET.get("from", ""), request.GET.get("to", "")
    if first or last:
        if not (first and last):
            raise reports.ReportRangeError("give both from and to (YYYY-MM-DD), or a month")
        try:
            start, end = reports.day_range(date.fromisoformat(first), date.fromisoformat(last))
        except ValueError as exc:
            message = str(exc) if isinstance(exc, reports.ReportRangeError) else "write days as YYYY-MM-DD"
            raise reports.ReportRangeError(message) from None
        return start, end, f"{first} to {last}"
    month = month or now.strftime("%Y-%m")
    start, end = reports.month_range(month)
    return start, end, month


@login_required
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    """``?team=<slug>`` or ``?source=<slug>``, ``month=YYYY-MM`` or ``from``/``to`` days, ``format=csv``."""
    user = request.user
    teams = teams_of(user, Action.READ)
    sources = restrict(Source.objects.order_by("slug"), user, Action.READ)
    team_slug, source_slug = request.GET.get("team", ""), request.GET.get("source", "")
    context: dict[str, Any] = {"nav": "reports", "teams": teams, "sources": sources, "query": request.GET}
    if not team_slug and not source_slug:
        return render(request, "objectives/report_choose.html", context)
    now = timezone.now()
    try:
        start, end, label = _range(request, now)
    except reports.ReportRangeError as exc:
        context["error"] = str(exc)
        return render(request, "objectives/report_choose.html", context, status=400)
    store = get_store()
    make: Callable[[datetime, datetime, datetime], reports.Report]
    if source_slug:
        source = sources.filter(slug=source_slug).first()
        if source is None:
            raise Http404("no such source")
        make, name = partial(reports.for_source, store, source), source.slug
    else:
        team = teams.filter(slug=team_slug).first()
        if not isinstance(team, Team):
            raise Http404("no such team")
        make, name = partial(reports.for_team, store, team), f"team-{team.slug}"
    try:
        built = make(start, end, now)
    except reports.ReportRangeError as exc:  # a range that has not begun
        context["error"] = str(exc)
        return render(request, "objectives/report_choose.html", context, status=400)
    if request.GET.get("format") == "csv":
        response = HttpResponse(reports.to_csv(built), content_type="text/csv; charset=utf-8")
        stamp = f"{built.start:%Y%m%d}-{built.end:%Y%m%d}"
        response["Content-Disposition"] = f'attachment; filename="report-{name}-{stamp}.csv"'
        return response
    # A range still under way says so ("1-7 December 2026, to date"): it is counted up to now only.
    context.update(report=built, label=built.days() if built.to_date else label, csv_query=_with_csv(request))
    return render(request, "objectives/report.html", context)


def _with_csv(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()
