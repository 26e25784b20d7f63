"""The overview: one card per source of the current team, first painted on the server from one ``latest_of()`` read
of that team's sources (never every team's)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard import status as st
from dashboard.access import in_current_team, json_login_required
from dashboard.cards import (
    apply_filters,
    build_cards,
    firing_alert_counts,
    group_cards,
    sort_cards,
    with_firing_alert_counts,
)
from metrics.rollups import tier_for_range
from metrics.stores import get_store
from metrics.stores.arguments import MAX_SERIES_KEYS
from metrics.stores.base import SeriesBucket, SeriesKey, Snapshot, StoreError
from pollers import health
from pollers.models import Source

log = logging.getLogger(__name__)

SPARKLINE_METRICS = ("cpu_load", "wait_time")
SPARKLINE_SPAN = timedelta(hours=1)
SPARKLINE_BUCKET = timedelta(minutes=1)
MAX_CARDS_PER_REQUEST = 200
MAX_PAUSED_NAMED = 20  # the overview names this many paused sources, then "and N more"


def _latest_of(sources: list[Source]) -> tuple[dict[str, Snapshot], bool]:
    """The latest snapshots of ``sources`` in one store read; (snapshots, store_ok)."""
    try:
        return get_store().latest_of(source.slug for source in sources), True
    except StoreError:
        log.warning("metric store unavailable while rendering the overview", exc_info=True)
        return {}, False


def _choice(request: HttpRequest, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.GET.get(name, default)
    return value if value in allowed else default


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    group_by = _choice(request, "group", ("region", "tag"), "region")
    sort_by = _choice(request, "sort", ("status", "name"), "status")
    statuses = {s for s in request.GET.getlist("status") if s in st.STATUSES}
    tag = request.GET.get("tag", "").strip()

    # Paused sources have no card (nothing is polled), yet they are listed by name with a link, the way back
    # to their Resume button: without it a paused source left the dashboard for good. Read in the same statement.
    team_sources = list(with_firing_alert_counts(in_current_team(request, Source.objects.all())))
    sources = [source for source in team_sources if source.enabled]
    paused = sorted((s for s in team_sources if not s.enabled), key=lambda s: (s.name.lower(), s.slug))
    snapshots, store_ok = _latest_of(sources)
    now = timezone.now()
    cards = build_cards(sources, snapshots, now, firing_alert_counts(sources))
    apply_filters(cards, statuses, tag)
    groups = group_cards(sort_cards(cards, sort_by), group_by, sort_by)
    counts = dict.fromkeys(st.STATUSES, 0)
    for card in cards:
        counts[card.verdict.status] += 1

    config: dict[str, Any] = {
        "wsPath": "/ws/metrics/",
        "cardsUrl": reverse("overview-cards"),
        "sparklinesUrl": reverse("overview-sparklines"),
        "staleAfterIntervals": health.stale_after_intervals(),
        "severity": st.CLIENT_SEVERITY,
        "labels": st.CLIENT_LABELS,
    }
    return render(
        request,
        "dashboard/overview.html",
        {
            "nav": "overview",
            "groups": groups,
            "cards": cards,
            "no_match": bool(cards) and all(card.hidden for card in cards),
            "counts": counts,
            "statuses": [(s, st.LABELS[s]) for s in st.STATUSES],
            "selected_statuses": statuses,
            "tag": tag,
            "all_tags": sorted({t for c in cards for t in c.tags}, key=str.lower),
            "group_by": group_by,
            "sort_by": sort_by,
            "store_ok": store_ok,
            "paused": paused[:MAX_PAUSED_NAMED],
            "paused_more": max(len(paused) - MAX_PAUSED_NAMED, 0),
            "now": now,
            "config": config,
        },
    )


@json_login_required
@require_GET
def cards_json(request: HttpRequest) -> JsonResponse:
    """Fresh card markup for some or all sources (one store read), for live updates in place."""
    wanted = request.GET.getlist("source")[:MAX_CARDS_PER_REQUEST]
    team_sources = in_current_team(request, Source.objects.enabled())
    sources = list(with_firing_alert_counts(team_sources.filter(slug__in=wanted) if wanted else team_sources))
    snapshots, store_ok = _latest_of(sources)
    if not store_ok:
        return JsonResponse({"error": "metric store unavailable"}, status=503)
    now = timezone.now()
    out = {}
    for card in build_cards(sources, snapshots, now, firing_alert_counts(sources)):
        out[card.slug] = {
            "html": render_to_string("dashboard/_card_body.html", {"card": card}, request=request),
            "status": card.verdict.status,
            "reason": card.verdict.reason,
            "last_seen": card.last_seen.isoformat() if card.last_seen else None,
            "down_since": card.verdict.down_since.isoformat() if card.verdict.down_since else None,
            "interval": card.source.interval_seconds,
        }
    # Sources asked for by name that are no longer this team's polled ones (paused, deleted or moved since the
    # page was drawn): the page takes their cards away instead of ticking their ages on as if they were current.
    gone = sorted(set(wanted) - {source.slug for source in sources})
    return JsonResponse({"generated_at": now.isoformat(), "cards": out, "gone": gone})


@json_login_required
@require_GET
def sparklines_json(request: HttpRequest) -> JsonResponse:
    """The last hour of CPU load and wait time per source, in one request after the first paint.

    Read with ``series_many``, a round trip per ``MAX_SERIES_KEYS`` series rather than one per source and
    metric: a team of 200 sources is 2 reads, not 400. Its hour ending now is a range no two requests share,
    so it goes to the store, uncached.
    """
    now = timezone.now()
    start = now - SPARKLINE_SPAN
    store = get_store()
    slugs = list(in_current_team(request, Source.objects.enabled()).values_list("slug", flat=True))
    keys = [SeriesKey(slug, metric) for slug in slugs for metric in SPARKLINE_METRICS]
    tier = tier_for_range(start, now)  # an hour: raw history, as a board's chart of an hour reads
    found: dict[SeriesKey, list[SeriesBucket]] = {}
    for first in range(0, len(keys), MAX_SERIES_KEYS):
        try:
            found.update(store.series_many(keys[first : first + MAX_SERIES_KEYS], start, now, SPARKLINE_BUCKET, tier))
        except StoreError:
            log.warning("metric store unavailable for sparklines", exc_info=True)
            return JsonResponse({"error": "metric store unavailable"}, status=503)
    series = {
        slug: {
            metric: [[b.start.timestamp(), b.avg] for b in found.get(SeriesKey(slug, metric), [])]
            for metric in SPARKLINE_METRICS
        }
        for slug in slugs
    }
    return JsonResponse({"start": start.timestamp(), "end": now.timestamp(), "series": series})
