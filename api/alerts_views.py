"""``GET /api/v1/alerts``: active alerts and recent alert events, read from ``alerts.models``.

The API presents alerting the way it presents sources and metrics (``api.decorators.api_view``: session
or Bearer token, rate limits, one error shape; ``api.params.QueryParams``: strict query parsing); alerting
itself knows nothing of the API. Its OpenAPI description is in ``api.alerts_openapi``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils import timezone

from alerts.models import AlertEvent, RuleState, Severity, Silence
from api.decorators import Access, api_view
from api.params import QueryParams
from pollers.models import Source

PARAMETERS = ("state", "source", "severity", "kind", "since", "limit")
STATES = (RuleState.Status.FIRING.value, RuleState.Status.PENDING.value)
SEVERITIES = tuple(Severity.values)
KINDS = tuple(AlertEvent.Kind.values)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@api_view(GET=Access.READ)
def alerts(request: HttpRequest) -> HttpResponseBase:
    params = QueryParams(request, PARAMETERS)
    filters: dict[str, Any] = {
        "state": params.choice("state", STATES, default=""),
        "severity": params.choice("severity", SEVERITIES, default=""),
        "kind": params.choice("kind", KINDS, default=""),
        "since": params.timestamp("since"),
        "limit": params.integer("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT),
        "source": None,
    }
    slug = params.string("source", max_length=64)
    if slug is not None:
        filters["source"] = Source.objects.filter(slug=slug).first()
        if filters["source"] is None:
            params.error("source", "no such source")
    params.raise_if_invalid()
    now = timezone.now()
    return JsonResponse({"generated_at": now.isoformat(), "active": _active(filters, now), "events": _events(filters)})


def _active(filters: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    states = RuleState.objects.active().select_related("rule", "source")
    if filters["state"]:
        states = states.filter(status=filters["state"])
    if filters["severity"]:
        states = states.filter(rule__severity=filters["severity"])
    if filters["source"] is not None:
        states = states.filter(source=filters["source"])
    silences = list(Silence.objects.active(now))
    rows = []
    # "firing" sorts before "pending": what is burning comes first.
    for state in states.order_by("status", "-firing_since", "source__slug", "rule__name"):
        silenced = any(
            s.source_id == state.source_id or (not s.source_id and s.tag in (state.source.tags or [])) for s in silences
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


def _events(filters: dict[str, Any]) -> list[dict[str, Any]]:
    events = AlertEvent.objects.select_related("source")
    if filters["severity"]:
        events = events.filter(severity=filters["severity"])
    if filters["source"] is not None:
        events = events.filter(source=filters["source"])
    if filters["kind"]:
        events = events.filter(kind=filters["kind"])
    if filters["since"] is not None:
        events = events.filter(occurred_at__gte=filters["since"])
    return [event.as_dict() for event in events.order_by("-occurred_at", "-pk")[: filters["limit"]]]
