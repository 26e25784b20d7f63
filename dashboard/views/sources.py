"""One source in depth: the payload laid out, charts of every metric, what changed, poll health."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from alerts.markers import anomaly_markers
from alerts.models import AlertEvent, RuleState, Silence
from boards.models import Annotation
from dashboard import payload_view, raw_json
from dashboard import status as st
from dashboard.access import abilities, json_login_required, readable
from dashboard.cards import build_card
from dashboard.ranges import PRESETS, RangeError, parse_range
from metrics.stores import get_store
from metrics.stores.base import HistoryPage, Snapshot, StoreError
from metrics.units import KEY_METRICS, metric_format
from pollers import health
from pollers.models import PollFailure, Source
from provisioning.flags import LIVE_CHANGES, flag_active

log = logging.getLogger(__name__)

RECENT_CHANGES = 5
RECENT_ALERT_EVENTS = 8
CHANGES_PAGE_SIZE = 25
MAX_MARKERS = 50
MAX_METRICS_PER_REQUEST = 64
ANOMALY_FEED = timedelta(days=7)  # how far back the changes feed lists anomalies


def _metric_names(source: Source, snapshot: Snapshot | None) -> list[str]:
    """Every metric the source extracts, plus any the latest snapshot carries (paths may have changed)."""
    names = set((source.metric_paths or {}).keys())
    if snapshot is not None:
        names |= set(snapshot.metrics)
    # The card's key numbers first, in the card's order, then the rest by name.
    rank = {name: i for i, name in enumerate(KEY_METRICS)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def _metric_meta(name: str) -> dict[str, Any]:
    fmt = metric_format(name)
    return {"name": name, "label": fmt.label, "unit": fmt.unit, "decimals": fmt.decimals}


# The parts of the drill-down a live update replaces together (templates/dashboard/source/_<part>.html).
PARTS = ("head", "issue", "now", "details", "alerts", "changes", "health", "raw")


def _detail_context(source: Source) -> dict[str, Any]:
    """Everything the drill-down derives from the latest snapshot and poll health, from one read of each."""
    store = get_store()
    store_ok = True
    snapshot: Snapshot | None = None
    changes = HistoryPage(entries=[], next_cursor=None)
    try:
        snapshot = store.latest(source.slug)
        changes = store.history(source.slug, limit=RECENT_CHANGES)
    except StoreError:
        log.warning("metric store unavailable for %s", source.slug, exc_info=True)
        store_ok = False
    now = timezone.now()
    card = build_card(source, snapshot, now)
    active_alerts = list(
        RuleState.objects.active().filter(source=source).select_related("rule").order_by("status", "-firing_since")
    )
    card.firing_alerts = sum(1 for a in active_alerts if a.status == RuleState.Status.FIRING)
    card.silenced = Silence.objects.covering(source, now)
    payload = snapshot.payload if snapshot is not None else {}
    # Bounded whatever the upstream sent: collapsed past a depth, cut at a size (dashboard/raw_json.py).
    raw = raw_json.render(
        payload,
        max_bytes=settings.DASHBOARD_RAW_JSON_MAX_BYTES,
        max_depth=settings.DASHBOARD_RAW_JSON_MAX_DEPTH,
        html=True,
    )
    poll_meta = dict(snapshot.poll_meta) if snapshot is not None else {}
    return {
        "source": source,
        "card": card,
        "snapshot": snapshot,
        "store_ok": store_ok,
        "summary": payload_view.summary(payload),
        "issue": payload_view.server_issue(payload),
        "services": payload_view.services(payload),
        "sections": payload_view.sections(payload),
        "workers": payload_view.workers(payload),
        "raw_json": mark_safe(raw.text) if snapshot is not None else "",  # noqa: S308 - escaped by render()
        "raw_json_truncated": raw.truncated,
        "raw_json_collapsed": raw.collapsed,
        "raw_json_max_depth": settings.DASHBOARD_RAW_JSON_MAX_DEPTH,
        "changes": changes,
        "active_alerts": active_alerts,
        "alert_events": list(AlertEvent.objects.filter(source=source)[:RECENT_ALERT_EVENTS]),
        "poll_failures": list(PollFailure.objects.recent_for(source)),
        "attempt_failed": health.is_failing(source),
        "poll_meta": poll_meta,
        # status_code and latency_ms have their own rows under "last good content"
        "poll_meta_rest": {k: v for k, v in poll_meta.items() if k not in ("status_code", "latency_ms")},
        "headers": source.masked_headers(),
    }


@login_required
@require_GET
def source_detail(request: HttpRequest, slug: str) -> HttpResponse:
    source = get_object_or_404(readable(request, Source.objects.all()), slug=slug)
    context = _detail_context(source)
    metrics = [_metric_meta(name) for name in _metric_names(source, context["snapshot"])]
    config = {
        "wsPath": "/ws/metrics/",
        "source": slug,
        "seriesUrl": reverse("source-series", args=[slug]),
        "partsUrl": reverse("source-parts", args=[slug]),
        # Anomaly markers on the charts (alerts.markers through /api/v1/anomalies).
        "anomaliesUrl": f"/api/v1/anomalies?source={slug}",
        "metrics": metrics,
        "ranges": list(PRESETS),
        "interval": source.interval_seconds,
        "staleAfterIntervals": health.stale_after_intervals(),
        "severity": st.CLIENT_SEVERITY,
        "labels": st.CLIENT_LABELS,
    }
    context.update(nav="overview", metrics=metrics, ranges=list(PRESETS), config=config)
    context.update(abilities(request, source.team_id))  # the rights in this source's team, not the current one
    return render(request, "dashboard/source_detail.html", context)


@json_login_required
@require_GET
def source_parts_json(request: HttpRequest, slug: str) -> JsonResponse:
    """Every snapshot- and health-derived part of the drill-down, rendered from one read, for live updates."""
    source = readable(request, Source.objects.all()).filter(slug=slug).first()
    if source is None:
        return JsonResponse({"error": f"unknown source {slug!r}"}, status=404)
    context = _detail_context(source)
    if not context["store_ok"]:
        return JsonResponse({"error": "metric store unavailable"}, status=503)
    card = context["card"]
    parts = {name: render_to_string(f"dashboard/source/_{name}.html", context, request=request) for name in PARTS}
    return JsonResponse(
        {
            "status": card.verdict.status,
            "reason": card.verdict.reason,
            "last_known": card.verdict.last_known,
            "last_seen": card.last_seen.isoformat() if card.last_seen else None,
            "down_since": card.verdict.down_since.isoformat() if card.verdict.down_since else None,
            "sequence": context["snapshot"].sequence if context["snapshot"] is not None else None,
            "parts": parts,
        }
    )


@login_required
@require_GET
def source_changes(request: HttpRequest, slug: str) -> HttpResponse:
    source = get_object_or_404(readable(request, Source.objects.all()), slug=slug)
    cursor = request.GET.get("cursor") or None
    try:
        page = get_store().history(slug, limit=CHANGES_PAGE_SIZE, cursor=cursor)
    except ValueError:
        return render(
            request,
            "dashboard/error.html",
            {"title": "Bad page link", "message": "That page of changes does not exist. Start from the newest."},
            status=400,
        )
    except StoreError:
        log.warning("metric store unavailable for %s history", slug, exc_info=True)
        return render(
            request,
            "dashboard/error.html",
            {"title": "Store unavailable", "message": "The metric store did not answer. Try again shortly."},
            status=503,
        )
    context = {
        "nav": "overview",
        "source": source,
        "changes": page,
        "first_page": cursor is None,
        "markers": _markers(source, page, cursor is None),
    }
    # The live follow is being rolled out behind a flag (docs/feature-flags.md): off, the page is a plain list.
    context["follow_live"] = cursor is None and flag_active(request, LIVE_CHANGES)
    if cursor is None:
        # The feed's first page also lists what anomaly rules found lately (alerts.markers).
        now = timezone.now()
        context["anomalies"] = anomaly_markers(Source.objects.filter(pk=source.pk), now - ANOMALY_FEED, now)[::-1]
    if request.GET.get("part") == "list":
        # The live refresh of the first page (static/js/live-page.js): the list alone.
        html = render_to_string("dashboard/_changes_list.html", context, request=request)
        return JsonResponse({"html": html, "newest": page.entries[0].sequence if page.entries else None})
    return render(request, "dashboard/source_changes.html", context)


def _markers(source: Source, page: HistoryPage, first_page: bool) -> list[Annotation]:
    """Deploy and change markers (boards.models.Annotation) in the time the page of changes covers."""
    if not page.entries:
        return []
    start = page.entries[-1].fetched_at if page.next_cursor else datetime(1970, 1, 1, tzinfo=UTC)
    end = timezone.now() if first_page else page.entries[0].fetched_at
    found = Annotation.objects.covering([source.pk], start, end + timedelta(microseconds=1))
    return list(found.select_related("created_by").order_by("-at", "-pk")[:MAX_MARKERS])


def _latest_snapshot(request: HttpRequest, slug: str) -> Snapshot | JsonResponse:
    get_object_or_404(readable(request, Source.objects.all()), slug=slug)
    try:
        snapshot = get_store().latest(slug)
    except StoreError:
        return JsonResponse({"error": "metric store unavailable"}, status=503)
    if snapshot is None:
        return JsonResponse({"error": "no data for this source yet"}, status=404)
    return snapshot


@login_required
@require_GET
def source_latest_json(request: HttpRequest, slug: str) -> HttpResponse:
    """The latest payload pretty-printed when that fits DASHBOARD_RAW_JSON_MAX_BYTES, else compact as stored.

    Either way valid JSON of the same document, and never larger than the bigger of that budget and
    the stored document itself (at most METRICS_MAX_PAYLOAD_BYTES).
    """
    snapshot = _latest_snapshot(request, slug)
    if isinstance(snapshot, JsonResponse):
        return snapshot
    pretty = raw_json.render(snapshot.payload, max_bytes=settings.DASHBOARD_RAW_JSON_MAX_BYTES)
    body = b"".join(raw_json.stream_compact(snapshot.payload)) if pretty.truncated else pretty.text.encode()
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{slug}-latest.json"'
    return response


@login_required
@require_GET
def source_latest_download(request: HttpRequest, slug: str) -> HttpResponse | StreamingHttpResponse:
    """The stored document as it is: compact, keys in stored order, streamed, as an attachment."""
    snapshot = _latest_snapshot(request, slug)
    if isinstance(snapshot, JsonResponse):
        return snapshot
    response = StreamingHttpResponse(
        raw_json.stream_compact(snapshot.payload), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}-latest.json"'
    return response


@json_login_required
@require_GET
def source_series_json(request: HttpRequest, slug: str) -> JsonResponse:
    """Bucketed min/avg/max of the source's metrics over a range, computed by the store's ``series()``."""
    source = readable(request, Source.objects.all()).filter(slug=slug).first()
    if source is None:
        return JsonResponse({"error": f"unknown source {slug!r}"}, status=404)
    try:
        time_range = parse_range(request.GET.dict(), timezone.now())
    except RangeError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    store = get_store()
    try:
        known = set(_metric_names(source, store.latest(slug)))
    except StoreError:
        return JsonResponse({"error": "metric store unavailable"}, status=503)
    wanted = request.GET.getlist("metric") or sorted(known)
    if len(wanted) > MAX_METRICS_PER_REQUEST:
        return JsonResponse({"error": f"metric: at most {MAX_METRICS_PER_REQUEST} per request"}, status=400)
    unknown = [m for m in wanted if m not in known]
    if unknown:
        return JsonResponse({"error": f"metric: unknown metric {unknown[0][:60]!r} for this source"}, status=400)
    out: dict[str, Any] = {}
    try:
        for name in wanted:
            buckets = store.series(slug, name, time_range.start, time_range.end, time_range.bucket)
            out[name] = {
                **_metric_meta(name),
                "points": [[b.start.timestamp(), b.min, b.avg, b.max, b.count] for b in buckets],
            }
    except StoreError:
        log.warning("metric store unavailable for %s series", slug, exc_info=True)
        return JsonResponse({"error": "metric store unavailable"}, status=503)
    return JsonResponse(
        {
            "source": slug,
            "range": time_range.name,
            "start": time_range.start.timestamp(),
            "end": time_range.end.timestamp(),
            "bucket_seconds": int(time_range.bucket.total_seconds()),
            "metrics": out,
            # Deploy and change markers over the range (docs/boards.md), drawn on every chart.
            "annotations": [
                a.as_dict()
                for a in Annotation.objects.covering([source.pk], time_range.start, time_range.end)
                .select_related("team", "source", "created_by")
                .order_by("at")[:MAX_MARKERS]
            ],
        }
    )
