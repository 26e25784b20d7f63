"""``GET /api/v1/alerts``: active alerts and recent alert events, read from ``alerts.models``.

A router of the API's one NinjaAPI (``api.ninja_api``), so it behaves like every other ``/api/v1/`` endpoint:
session or Bearer token, rate limits, strict parameters, one error shape; its schemas (``api.alerts_schemas``)
serialise the answer and describe it in the generated document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Schema
from pydantic import Field

from alerts.models import AlertEvent, RuleState, Silence
from api.access import principal_of
from api.alerts_schemas import AlertList, Kind, SeverityName, State
from api.auth import Principal
from api.errors import field_errors
from api.params import TIMESTAMP_HELP, Between, Text, Timestamp
from api.router import ApiRouter
from api.schemas import documented
from pollers.models import Source

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

router = ApiRouter(tags=["alerts"])


class AlertQuery(Schema):
    state: State | None = Field(None, description="Only active alerts in this state.")
    source: Text | None = Field(None, max_length=64, description="Only this source (alerts and events).")
    severity: SeverityName | None = Field(None, description="Only this severity (alerts and events).")
    kind: Kind | None = Field(None, description="Only events of this kind.")
    since: Timestamp | None = Field(None, description=f"Only events at or after this time. {TIMESTAMP_HELP}")
    limit: Annotated[int, Between(1, MAX_LIMIT)] = Field(DEFAULT_LIMIT, description="Events returned.")


@router.get("", response=documented({200: AlertList}, 400, 401, 429, 500), operation_id="listAlerts")
def alerts(request: HttpRequest, query: Query[AlertQuery]) -> dict[str, Any]:
    """Active alerts (firing, then pending) and recent alert events, newest first."""
    principal = principal_of(request)
    source = None
    if query.source is not None:
        # Another team's source is refused exactly like a missing one.
        source = principal.restrict(Source.objects.all()).filter(slug=query.source).first()
        if source is None:
            raise field_errors({"source": ["no such source"]}, "Some query parameters are invalid.")
    now = timezone.now()
    return {
        "generated_at": now.isoformat(),
        "active": _active(principal, query, source, now),
        "events": _events(principal, query, source),
    }


def _active(principal: Principal, query: AlertQuery, source: Source | None, now: datetime) -> list[dict[str, Any]]:
    states = principal.restrict(RuleState.objects.active(), field="source__team").select_related("rule", "source")
    if query.state:
        states = states.filter(status=query.state)
    if query.severity:
        states = states.filter(rule__severity=query.severity)
    if source is not None:
        states = states.filter(source=source)
    silences = list(principal.restrict(Silence.objects.active(now)))
    rows = []
    # "firing" sorts before "pending": what is burning comes first.
    for state in states.order_by("status", "-firing_since", "source__slug", "rule__name"):
        # The rule of Silence.objects.covering: a tag silence quiets its own team's sources only (a caller of
        # several teams reads the silences of all of them here).
        silenced = any(
            s.source_id == state.source_id
            or (not s.source_id and s.team_id == state.source.team_id and s.tag in (state.source.tags or []))
            for s in silences
        )
        rows.append(
            {
                "rule": {"id": state.rule_id, "name": state.rule.name},
                "source": state.source.slug,
                "severity": state.rule.severity,
                "state": state.status,
                "condition": state.rule.summary(),
                "value": state.last_value,
                "pending_since": state.pending_since.isoformat() if state.pending_since else None,
                "firing_since": state.firing_since.isoformat() if state.firing_since else None,
                "fired_event_id": state.fired_event_id,
                "silenced": silenced,
            }
        )
    return rows


def _events(principal: Principal, query: AlertQuery, source: Source | None) -> list[dict[str, Any]]:
    events = principal.restrict(AlertEvent.objects.all(), field="source__team").select_related("source")
    if query.severity:
        events = events.filter(severity=query.severity)
    if source is not None:
        events = events.filter(source=source)
    if query.kind:
        events = events.filter(kind=query.kind)
    if query.since is not None:
        events = events.filter(occurred_at__gte=query.since)
    return [event.as_dict() for event in events.order_by("-occurred_at", "-pk")[: query.limit]]
