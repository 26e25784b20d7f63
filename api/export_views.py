"""``/api/v1/export/<slug>``: a source's history as CSV or NDJSON, streamed page by page.

Memory stays constant however long the range: one store page (API_EXPORT_PAGE_SIZE entries) is held
at a time and each row is encoded and handed to the server before the next is read. Under ASGI (daphne)
the body must be an async iterator: Django would read a sync one whole into a list before sending it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query
from pydantic import Field

from api.errors import field_errors
from api.params import OneOf, Slug, TimeRange
from api.router import ApiRouter
from api.schemas import READ_ERRORS, documented
from api.sources_views import source_or_404
from metrics.serialization import history_entry_json, number, utc_z
from metrics.stores import get_store
from metrics.stores.base import HistoryEntry, HistoryPage, MetricStore

logger = logging.getLogger("api")

FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
STREAMED = {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}

router = ApiRouter(tags=["export"])
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def entries(
    store: MetricStore, slug: str, first: HistoryPage, start: datetime | None, end: datetime | None
) -> Iterator[HistoryEntry]:
    page = first
    while True:
        yield from page.entries
        if not page.next_cursor:
            return
        page = store.history(slug, start=start, end=end, limit=settings.API_EXPORT_PAGE_SIZE, cursor=page.next_cursor)


def safe_cell(text: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula; metric names come from users.
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(rows: Iterator[HistoryEntry], metric_names: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(["fetched_at", "sequence", "hash", *(safe_cell(name) for name in metric_names)])
    yield flush()
    for entry in rows:
        values = ("" if v is None else number(v) for v in (entry.metrics.get(name) for name in metric_names))
        writer.writerow([utc_z(entry.fetched_at), entry.sequence, entry.hash, *values])
        yield flush()


def ndjson_rows(rows: Iterator[HistoryEntry]) -> Iterator[str]:
    for entry in rows:
        yield json.dumps(history_entry_json(entry), separators=(",", ":")) + "\n"


def logged(chunks: Iterator[str], slug: str) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk.encode()
    except Exception:
        # Headers are gone already; ending the stream without its last chunk tells the client it is cut.
        logger.exception("export of %s stopped early", slug)
        raise


ASYNC_BATCH_BYTES = 64 * 1024


def take_batch(chunks: Iterator[bytes]) -> bytes:
    """Up to about ASYNC_BATCH_BYTES of the next chunks, so each hop to the database thread moves a fair amount."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= ASYNC_BATCH_BYTES:
            break
    return b"".join(parts)


async def async_batches(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # thread_sensitive: the store's database connection belongs to the thread the view ran in.
    next_batch = sync_to_async(take_batch, thread_sensitive=True)
    while True:
        batch = await next_batch(chunks)
        if not batch:
            return
        yield batch


class ExportQuery(TimeRange):
    format: Annotated[str, OneOf(tuple(FORMATS))] = Field("csv", description="The file format.")


@router.get(
    "/{slug:slug}",
    response=documented({200: None}, *READ_ERRORS),
    operation_id="exportHistory",
    # The body is a file, not JSON: its media types are all the document can say about it.
    openapi_extra={"responses": {200: {"description": "The export, streamed.", "content": STREAMED}}},
)
def export(request: HttpRequest, slug: Slug, query: Query[ExportQuery]) -> StreamingHttpResponse:
    """The whole history in a range, streamed as CSV or NDJSON (newest first), in constant memory."""
    if problems := query.problems():
        raise field_errors(problems, "Some query parameters are invalid.")
    source = source_or_404(request, slug)
    store = get_store()
    # The first page is read before answering, so an unavailable store is a 503, not a cut stream.
    first = store.history(slug, start=query.start, end=query.end, limit=settings.API_EXPORT_PAGE_SIZE)
    rows = entries(store, slug, first, query.start, query.end)
    if query.format == "csv":
        metric_names = sorted((source.metric_paths or {}).keys())
        chunks = csv_rows(rows, metric_names)
    else:
        chunks = ndjson_rows(rows)
    body = logged(chunks, slug)
    streamed = async_batches(body) if isinstance(request, ASGIRequest) else body
    response = StreamingHttpResponse(streamed, content_type=FORMATS[query.format])
    response["Content-Disposition"] = f'attachment; filename="{slug}-history.{query.format}"'
    response["Cache-Control"] = "private, no-store"
    return response
