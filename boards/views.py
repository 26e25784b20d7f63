"""The boards pages: the list, one board (view and edit in place), the region comparison.

Server-rendered shells: the data and every change go through ``/api/v1/`` (api/boards_views.py), the
same operations a script uses, so the page has no write path of its own. Access: signed in; a board
another team owns answers 404 (its existence is not told), editing controls show for operators and
admins of the board's team (boards.models).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.teams import teams_of
from boards import spec
from boards.data import readable_sources
from boards.models import EDIT, Board
from metrics.units import metric_format

REFRESH_LABELS = {0: "off", 10: "10 s", 30: "30 s", 60: "1 min", 300: "5 min"}


def _common(request: HttpRequest) -> dict[str, Any]:
    return {
        "csrf": get_token(request),
        "ranges": list(spec.TIME_RANGES),
        "refreshes": [{"value": v, "label": REFRESH_LABELS[v]} for v in spec.REFRESH_CHOICES],
    }


@require_GET
@login_required
def board_list(request: HttpRequest) -> HttpResponse:
    boards = Board.objects.readable_by(request.user).select_related("team")
    teams = [{"slug": t.slug, "name": t.name} for t in teams_of(request.user, EDIT)]
    config = {**_common(request), "teams": teams, "format": spec.FORMAT}
    return render(request, "boards/list.html", {"boards": boards, "teams": teams, "config": config, "nav": "boards"})


@require_GET
@login_required
def board_detail(request: HttpRequest, slug: str) -> HttpResponse:
    board = Board.objects.readable_by(request.user).select_related("team").filter(slug=slug).first()
    if board is None:
        raise Http404("no such board")
    sources = readable_sources(request.user)
    config = {
        **_common(request),
        "slug": board.slug,
        "team": board.team.slug,
        "can_edit": board.can_edit(request.user),
        "document": board.document(),
        "version": board.version,
        "sources": [s.slug for s in sources],
        "metrics": sorted({m for s in sources for m in (s.metric_paths or {})}),
        "panel_types": list(spec.PANEL_TYPES),
        "columns": spec.GRID_COLUMNS,
    }
    return render(request, "boards/board.html", {"board": board, "config": config, "nav": "boards"})


@require_GET
@login_required
def compare_page(request: HttpRequest) -> HttpResponse:
    sources = readable_sources(request.user)
    metrics = sorted({m for s in sources for m in (s.metric_paths or {})})
    asked = request.GET.get("metric", "")
    metric = asked if asked in metrics else (metrics[0] if metrics else "")
    asked_range = request.GET.get("range", "24h")
    config = {**_common(request), "metric": metric, "range": asked_range if asked_range in spec.TIME_RANGES else "24h"}
    # The list names each metric as the cards do (metrics/units.py); its value stays the metric's name.
    choices = [(name, metric_format(name).label) for name in metrics]
    context = {"metrics": choices, "metric": metric, "config": config, "nav": "boards"}
    return render(request, "boards/compare.html", context)
