"""The system page: poller processes and leases, channel layer, store and cache, the current team's counts.

It needs the admin role in the current team (or a superuser): team admins manage sources and need to
know whether pollers run; the counts are their team's sources only.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.teams import Action
from dashboard import system_info, system_state
from dashboard.access import in_current_team, json_login_required, role_required
from metrics.stores import get_store
from metrics.stores.base import StoreError, StoreStats
from pollers import health
from pollers.models import PollerProcess, Source

log = logging.getLogger(__name__)

ALIVE_WITHIN = system_state.POLLER_ALIVE_WITHIN
RECENT_PROCESSES = 20


@role_required(Action.MANAGE)
@require_GET
def system(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    processes = list(PollerProcess.objects.all()[:RECENT_PROCESSES])
    alive_since = now - ALIVE_WITHIN
    rows = [
        {
            "process": p,
            "alive": p.stopped_at is None and p.last_heartbeat_at >= alive_since,
            "heartbeat_age": (now - p.last_heartbeat_at).total_seconds(),
        }
        for p in processes
    ]
    store = get_store()
    stats: StoreStats | None = None
    store_error = ""
    try:
        stats = store.stats()
    except StoreError as exc:
        log.warning("metric store unavailable for the system page", exc_info=True)
        store_error = type(exc).__name__
    team_sources = in_current_team(request, Source.objects.all())
    counts = team_sources.aggregate(
        total=Count("id"),
        enabled_count=Count("id", filter=Q(enabled=True)),
        failing=Count("id", filter=Q(enabled=True) & (health.failing_filter() | health.circuit_open_filter())),
        circuit_open=Count("id", filter=health.circuit_open_filter()),
    )
    context = {
        "nav": "system",
        "processes": rows,
        "alive_count": sum(1 for r in rows if r["alive"]),
        "leases_held": sum(r["process"].leases_held for r in rows if r["alive"]),
        "store_backend": getattr(store, "backend", type(store).__name__),
        "store_class": type(store).__name__,
        "stats": stats,
        "store_error": store_error,
        "cache": system_info.probe_cache(),
        "channel_layer": system_info.probe_channel_layer(),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "counts": counts,
        # Each with what it sends and why (the model's rule), for the operator to secure or acknowledge.
        "credentials_unverified": team_sources.order_by("name", "slug").sending_credentials_unverified(),
        "now": now,
    }
    if request.GET.get("part") == "1":
        # The live refresh (static/js/live-page.js): the page's body alone.
        return JsonResponse({"html": render_to_string("dashboard/_system_body.html", context, request=request)})
    return render(request, "dashboard/system.html", context)


@json_login_required
@require_GET
def system_state_json(request: HttpRequest) -> JsonResponse:
    """Every page's banner: is a poller running, does the metric store answer (dashboard/system_state.py)."""
    return JsonResponse(system_state.current().as_json())
