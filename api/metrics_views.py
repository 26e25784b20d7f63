"""``/api/v1/metrics``: latest snapshots, history pages, server-side series and the stored diffs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import P, Query, QueryEx
from pydantic import Field

from api.conditional import set_last_modified
from api.errors import ApiError, field_errors
from api.params import (
    BUCKETS,
    EARLIEST,
    Between,
    Cursor,
    OneOf,
    Slug,
    Text,
    TimeRange,
    TrueFalse,
    reversed_range,
)
from api.router import ApiRouter
from api.schemas import READ_ERRORS, ChangesPage, HistoryPage, Series, Snapshot, SnapshotIndex, documented
from api.sources_views import source_or_404, visible_sources
from metrics.serialization import bucket_json, change_entry_json, history_entry_json, snapshot_json, time_json
from metrics.stores import get_store
from metrics.stores.base import HistoryEntry

DEFAULT_SERIES_WINDOW = timedelta(hours=24)

router = ApiRouter(tags=["metrics"])


def _max_page_size() -> int:
    return int(settings.API_MAX_PAGE_SIZE)


class PageQuery(TimeRange):
    limit: Annotated[int, Between(1, _max_page_size)] | None = Field(
        None, description=f"Entries per page (default {settings.API_PAGE_SIZE})."
    )
    cursor: Cursor | None = None


@router.get(
    "",
    response=documented({200: SnapshotIndex}, *READ_ERRORS, not_modified=True),
    operation_id="latestMetrics",
    exclude_unset=True,
)
def metrics_index(
    request: HttpRequest,
    response: HttpResponse,
    payload: QueryEx[TrueFalse | None, P(description="Include each raw payload (default false).")] = None,
) -> dict[str, Any]:
    """The latest snapshot of every source, in one response; each raw payload only with payload=true."""
    snapshots = get_store().latest_of(visible_sources(request).values_list("slug", flat=True))
    with_payload = payload == "true"
    set_last_modified(response, max((snap.last_seen_at for snap in snapshots.values()), default=None))
    return {"sources": {slug: snapshot_json(snapshots[slug], with_payload=with_payload) for slug in sorted(snapshots)}}


@router.get(
    "/{slug:slug}",
    response=documented({200: Snapshot}, *READ_ERRORS, not_modified=True),
    operation_id="sourceMetrics",
    exclude_unset=True,
)
def metrics_detail(request: HttpRequest, response: HttpResponse, slug: Slug) -> dict[str, Any]:
    """The latest snapshot of a source, with its payload."""
    source_or_404(request, slug)
    snapshot = get_store().latest(slug)
    if snapshot is None:
        raise ApiError(404, "no_data", f"Source {slug!r} has no stored snapshot yet.")
    set_last_modified(response, snapshot.last_seen_at)
    return snapshot_json(snapshot, with_payload=True)


def _next_link(request: HttpRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in request.GET.items() if k != "cursor"}
    query["cursor"] = cursor
    return f"{request.path}?{urlencode(query)}"


def page_response(
    request: HttpRequest,
    response: HttpResponse,
    slug: str,
    query: PageQuery,
    entry_data: Callable[[HistoryEntry], dict[str, Any]],
) -> dict[str, Any]:
    """One page of a source's history, each entry shown by ``entry_data`` (history and changes differ only there)."""
    if problems := query.problems():
        raise field_errors(problems, "Some query parameters are invalid.")
    source_or_404(request, slug)
    limit = query.limit or settings.API_PAGE_SIZE
    try:
        page = get_store().history(slug, start=query.start, end=query.end, limit=limit, cursor=query.cursor)
    except ValueError:
        raise field_errors(
            {"cursor": ["not a cursor from a previous page of this query"]}, "Some query parameters are invalid."
        ) from None
    set_last_modified(response, page.entries[0].fetched_at if page.entries else None)
    return {
        "source": slug,
        "entries": [entry_data(entry) for entry in page.entries],
        "next_cursor": page.next_cursor,
        "next": _next_link(request, page.next_cursor),
    }


@router.get(
    "/{slug:slug}/history",
    response=documented({200: HistoryPage}, *READ_ERRORS, not_modified=True),
    operation_id="sourceHistory",
)
def history(request: HttpRequest, response: HttpResponse, slug: Slug, query: Query[PageQuery]) -> dict[str, Any]:
    """Stored snapshots, newest first, cursor-paginated: follow ``next``."""
    return page_response(request, response, slug, query, history_entry_json)


@router.get(
    "/{slug:slug}/changes",
    response=documented({200: ChangesPage}, *READ_ERRORS, not_modified=True),
    operation_id="sourceChanges",
)
def changes(request: HttpRequest, response: HttpResponse, slug: Slug, query: Query[PageQuery]) -> dict[str, Any]:
    """The field-level diffs of stored snapshots, newest first, cursor-paginated."""
    return page_response(request, response, slug, query, change_entry_json)


class SeriesQuery(TimeRange):
    metric: Text | None = Field(
        None,
        max_length=200,
        description="A metric name of the source; by default its first metric by name.",
        examples=["cpu_load"],
    )
    bucket: Annotated[str, OneOf(tuple(BUCKETS))] = Field("5m", description="Bucket width.")


@router.get(
    "/{slug:slug}/series",
    response=documented({200: Series}, *READ_ERRORS, not_modified=True),
    operation_id="sourceSeries",
    by_alias=True,
)
def series(request: HttpRequest, slug: Slug, query: Query[SeriesQuery]) -> dict[str, Any]:
    """A metric in time buckets (min, avg, max, count), computed in the database; the last 24 h by default."""
    source = source_or_404(request, slug)
    problems: dict[str, list[str]] = {}
    known_metrics = sorted((source.metric_paths or {}).keys())
    metric = query.metric if query.metric is not None else (known_metrics[0] if known_metrics else "")
    if metric not in known_metrics:
        problems["metric"] = [f"unknown metric for {slug!r}; one of {', '.join(known_metrics) or 'none'}"]
    end = query.end or timezone.now()
    start = query.start or max(end - DEFAULT_SERIES_WINDOW, EARLIEST)
    problems.update({name: found for name, found in query.problems().items() if name == "range"})
    problems.update(reversed_range(start, end, allow_empty=False))
    bucket = BUCKETS[query.bucket]
    if start <= end and (end - start) / bucket > settings.API_SERIES_MAX_BUCKETS:
        problems["bucket"] = [
            f"too many buckets for this range (max {settings.API_SERIES_MAX_BUCKETS}); use a larger one"
        ]
    if problems:
        raise field_errors(problems, "Some query parameters are invalid.")
    try:
        buckets = get_store().series(slug, metric, start, end, bucket)
    except ValueError as exc:
        # The store refuses what it cannot compute (its own bucket cap); the message names no internals.
        raise ApiError(400, "invalid_parameters", str(exc)[:300], {"fields": {"bucket": [str(exc)[:300]]}}) from None
    return {
        "source": slug,
        "metric": metric,
        "bucket": query.bucket,
        "from": time_json(start),
        "to": time_json(end),
        "buckets": [bucket_json(b) for b in buckets],
    }
