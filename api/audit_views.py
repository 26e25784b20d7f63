"""``/api/v1/audit``: the audit trail of the caller's teams, for team admins (a superuser reads all of it).

Newest first, cursor-paginated like the history (``limit``, ``next_cursor``, ``next``), filtered by action,
object type, actor (user name or token prefix) and time; ``/api/v1/audit/export`` streams the same selection as
NDJSON in constant memory. Events without a team (logins, MFA changes, global retention) only a superuser
sees. The events are written by accounts/audit.py and accounts/audit_trail.py, secrets already masked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Schema
from pydantic import Field

from accounts.models import AuditEvent
from accounts.teams import Action
from api.access import MANAGE, principal_of, role_refused
from api.audit_schemas import AuditPage, event_data
from api.errors import field_errors
from api.params import TIMESTAMP_HELP, Between, Cursor, Text, Timestamp
from api.router import ApiRouter
from api.schemas import READ_ERRORS, documented

router = ApiRouter(tags=["audit"])
INVALID_PARAMETERS = "Some query parameters are invalid."
EXPORT_BATCH = 500
ERRORS = tuple(sorted({*READ_ERRORS, 403}))


def _max_page_size() -> int:
    return int(settings.API_MAX_PAGE_SIZE)


class AuditFilter(Schema):
    action: Text | None = Field(None, max_length=64, description="Only this action (create, update, delete, login…).")
    object_type: Text | None = Field(None, max_length=100, description="Only this object type, e.g. pollers.source.")
    actor: Text | None = Field(None, max_length=254, description="Only this actor: a user name or a token prefix.")
    since: Timestamp | None = Field(None, description=f"Only events at or after this time. {TIMESTAMP_HELP}")
    until: Timestamp | None = Field(None, description=f"Only events before this time. {TIMESTAMP_HELP}")


class AuditQuery(AuditFilter):
    limit: Annotated[int, Between(1, _max_page_size)] | None = Field(
        None, description=f"Events per page (default {settings.API_PAGE_SIZE})."
    )
    cursor: Cursor | None = None


def selected(request: HttpRequest, query: AuditFilter) -> QuerySet[AuditEvent]:
    """The events the caller administers, filtered by ``query``, newest (highest id) first."""
    principal = principal_of(request)
    if not (principal.user.is_superuser and principal.token is None) and not principal.teams(Action.MANAGE).exists():
        raise role_refused(Action.MANAGE)
    if query.since is not None and query.until is not None and query.until <= query.since:
        raise field_errors({"until": ["must be after since"]}, INVALID_PARAMETERS)
    events = principal.restrict(AuditEvent.objects.all(), Action.MANAGE)
    if query.action:
        events = events.filter(action=query.action)
    if query.object_type:
        events = events.filter(object_type=query.object_type.lower())
    if query.actor:
        events = events.filter(Q(actor_label=query.actor) | Q(token_prefix=query.actor))
    if query.since is not None:
        events = events.filter(created_at__gte=query.since)
    if query.until is not None:
        events = events.filter(created_at__lt=query.until)
    # Ids grow with every append: the id order is the order of recording and a stable cursor.
    return events.select_related("team").order_by("-id")


def _cursor(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise field_errors({"cursor": ["not a cursor from a previous page of this query"]}, INVALID_PARAMETERS)
    return int(raw)


@router.get("", auth=MANAGE, response=documented({200: AuditPage}, *ERRORS), operation_id="listAuditEvents")
def audit_events(request: HttpRequest, query: Query[AuditQuery]) -> dict[str, Any]:
    """The audit trail of the teams the caller administers, newest first, cursor-paginated: follow ``next``."""
    events = selected(request, query)
    after = _cursor(query.cursor)
    if after is not None:
        events = events.filter(id__lt=after)
    limit = query.limit or settings.API_PAGE_SIZE
    page = list(events[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = str(page[-1].pk) if more and page else None
    next_link = None
    if next_cursor is not None:
        params = {k: v for k, v in request.GET.items() if k != "cursor"}
        next_link = f"{request.path}?{urlencode({**params, 'cursor': next_cursor})}"
    return {"events": [event_data(event) for event in page], "next_cursor": next_cursor, "next": next_link}


def ndjson(events: QuerySet[AuditEvent]) -> Iterator[bytes]:
    # Keyset batches, not one cursor held open over the whole table: constant memory, short transactions.
    last: int | None = None
    while True:
        batch = events if last is None else events.filter(id__lt=last)
        rows = list(batch[:EXPORT_BATCH])
        for event in rows:
            yield (json.dumps(event_data(event), separators=(",", ":")) + "\n").encode()
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1].pk


@router.get(
    "/export",
    auth=MANAGE,
    response=documented({200: None}, *ERRORS),
    operation_id="exportAuditEvents",
    openapi_extra={
        "responses": {200: {"description": "NDJSON, one event a line.", "content": {"application/x-ndjson": {}}}}
    },
)
def export_audit(request: HttpRequest, query: Query[AuditFilter]) -> StreamingHttpResponse:
    """The same selection as the list, every page, as NDJSON (newest first), streamed."""
    events = selected(request, query)
    response = StreamingHttpResponse(ndjson(events), content_type="application/x-ndjson")
    response["Content-Disposition"] = 'attachment; filename="audit.ndjson"'
    response["Cache-Control"] = "private, no-store"
    return response
