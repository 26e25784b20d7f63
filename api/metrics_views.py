"""``/api/v1/metrics``: latest snapshots, history pages, server-side series and the stored diffs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from api.conditional import conditional_json
from api.decorators import Access, api_view
from api.errors import ApiError
from api.params import BUCKETS, EARLIEST, QueryParams
from api.sources_views import source_or_404
from metrics.serialization import bucket_json, change_entry_json, history_entry_json, snapshot_json, time_json
from metrics.stores import get_store
from metrics.stores.base import HistoryEntry, HistoryPage
from pollers.models import Source

DEFAULT_SERIES_WINDOW = timedelta(hours=24)


@api_view(GET=Access.READ)
def metrics_index(request: HttpRequest) -> HttpResponseBase:
    params = QueryParams(request, ("payload",))
    with_payload = params.choice("payload", ("true", "false"), default="false") == "true"
    params.raise_if_invalid()
    known = set(Source.objects.values_list("slug", flat=True))
    snapshots = {slug: snap for slug, snap in get_store().latest_all().items() if slug in known}
    data = {"sources": {slug: snapshot_json(snapshots[slug], with_payload=with_payload) for slug in sorted(snapshots)}}
    newest = max((snap.last_seen_at for snap in snapshots.values()), default=None)
    return conditional_json(request, data, last_modified=newest)


@api_view(GET=Access.READ)
def metrics_detail(request: HttpRequest, slug: str) -> HttpResponseBase:
    QueryParams(request, ()).raise_if_invalid()
    source_or_404(slug)
    snapshot = get_store().latest(slug)
    if snapshot is None:
        raise ApiError(404, "no_data", f"Source {slug!r} has no stored snapshot yet.")
    return conditional_json(request, snapshot_json(snapshot, with_payload=True), last_modified=snapshot.last_seen_at)


def _history_page(request: HttpRequest, slug: str) -> HistoryPage:
    params = QueryParams(request, ("from", "to", "limit", "cursor"))
    start = params.timestamp("from")
    end = params.timestamp("to")
    params.time_range(start, end)
    limit = params.integer("limit", settings.API_PAGE_SIZE, minimum=1, maximum=settings.API_MAX_PAGE_SIZE)
    cursor = params.cursor()
    params.raise_if_invalid()
    source_or_404(slug)
    try:
        return get_store().history(slug, start=start, end=end, limit=limit, cursor=cursor)
    except ValueError:
        raise ApiError(
            400,
            "invalid_parameters",
            "Some query parameters are invalid.",
            {"fields": {"cursor": ["not a cursor from a previous page of this query"]}},
        ) from None


def _next_link(request: HttpRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in request.GET.items() if k != "cursor"}
    query["cursor"] = cursor
    return f"{request.path}?{urlencode(query)}"


@api_view(GET=Access.READ)
def history(request: HttpRequest, slug: str) -> HttpResponseBase:
    return _page_response(request, slug, history_entry_json)


@api_view(GET=Access.READ)
def changes(request: HttpRequest, slug: str) -> HttpResponseBase:
    return _page_response(request, slug, change_entry_json)


def _page_response(
    request: HttpRequest, slug: str, entry_data: Callable[[HistoryEntry], dict[str, Any]]
) -> HttpResponseBase:
    """One page of a source's history, each entry shown by ``entry_data`` (history and changes differ only there)."""
    page = _history_page(request, slug)
    data = {
        "source": slug,
        "entries": [entry_data(entry) for entry in page.entries],
        "next_cursor": page.next_cursor,
        "next": _next_link(request, page.next_cursor),
    }
    newest = page.entries[0].fetched_at if page.entries else None
    return conditional_json(request, data, last_modified=newest)


@api_view(GET=Access.READ)
def series(request: HttpRequest, slug: str) -> HttpResponseBase:
    params = QueryParams(request, ("metric", "from", "to", "bucket"))
    metric = params.string("metric", required=True) or ""
    start = params.timestamp("from")
    end = params.timestamp("to")
    bucket_name = params.choice("bucket", tuple(BUCKETS), default="5m") or "5m"
    params.raise_if_invalid()
    source = source_or_404(slug)
    known_metrics = sorted((source.metric_paths or {}).keys())
    if metric not in known_metrics:
        params.error("metric", f"unknown metric for {slug!r}; one of {', '.join(known_metrics) or 'none'}")
    end = end or timezone.now()
    start = start or max(end - DEFAULT_SERIES_WINDOW, EARLIEST)
    params.time_range(start, end, allow_empty=False)
    bucket = BUCKETS[bucket_name]
    if start <= end and (end - start) / bucket > settings.API_SERIES_MAX_BUCKETS:
        params.error(
            "bucket", f"too many buckets for this range (max {settings.API_SERIES_MAX_BUCKETS}); use a larger one"
        )
    params.raise_if_invalid()
    try:
        buckets = get_store().series(slug, metric, start, end, bucket)
    except ValueError as exc:
        # The store refuses what it cannot compute (its own bucket cap); the message names no internals.
        raise ApiError(400, "invalid_parameters", str(exc)[:300], {"fields": {"bucket": [str(exc)[:300]]}}) from None
    data = {
        "source": slug,
        "metric": metric,
        "bucket": bucket_name,
        "from": time_json(start),
        "to": time_json(end),
        "buckets": [bucket_json(b) for b in buckets],
    }
    return conditional_json(request, data)
