"""``GET /api/v1/alerts``: active alerts and recent alert events, for a session or a Bearer token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import ApiToken
from alerts.models import AlertEvent, AlertState, Severity, Silence
from pollers.models import Source

PARAMETERS = ("state", "source", "severity", "kind", "since", "limit")
STATES = (AlertState.Status.FIRING, AlertState.Status.PENDING)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class BadParameter(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message, "details": details or {}}}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _authenticated(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, raw = header.partition(" ")
        return scheme.lower() == "bearer" and ApiToken.authenticate(raw.strip()) is not None
    return bool(request.user.is_authenticated and request.user.is_active)


def alerts(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        response = error(405, "method_not_allowed", f"{request.method} is not allowed here.", {"allowed": ["GET"]})
        response["Allow"] = "GET, HEAD"
        return response
    if not _authenticated(request):
        response = error(401, "unauthorized", "Log in or send Authorization: Bearer <token>.")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    try:
        filters = _filters(request)
    except BadParameter as exc:
        return error(400, "invalid_parameter", exc.message, {"parameter": exc.name})
    now = timezone.now()
    body = {
        "generated_at": now.isoformat(),
        "active": _active(filters, now),
        "events": _events(filters),
    }
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


def _filters(request: HttpRequest) -> dict[str, Any]:
    params = request.GET
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise BadParameter(unknown[0], f"Unknown parameter {unknown[0]!r}; allowed: {', '.join(PARAMETERS)}.")
    filters: dict[str, Any] = {}
    state = params.get("state")
    if state is not None:
        if state not in STATES:
            raise BadParameter("state", f"state must be one of {', '.join(STATES)}.")
        filters["state"] = state
    severity = params.get("severity")
    if severity is not None:
        if severity not in Severity.values:
            raise BadParameter("severity", f"severity must be one of {', '.join(Severity.values)}.")
        filters["severity"] = severity
    kind = params.get("kind")
    if kind is not None:
        if kind not in AlertEvent.Kind.values:
            raise BadParameter("kind", f"kind must be one of {', '.join(AlertEvent.Kind.values)}.")
        filters["kind"] = kind
    slug = params.get("source")
    if slug is not None:
        source = Source.objects.filter(slug=slug).first()
        if source is None:
            raise BadParameter("source", f"No source {slug[:64]!r}.")
        filters["source"] = source
    since = params.get("since")
    if since is not None:
        filters["since"] = _datetime("since", since)
    limit = params.get("limit")
    filters["limit"] = DEFAULT_LIMIT
    if limit is not None:
        try:
            filters["limit"] = int(limit)
        except ValueError:
            raise BadParameter("limit", "limit must be a whole number.") from None
        if not 1 <= filters["limit"] <= MAX_LIMIT:
            raise BadParameter("limit", f"limit must be between 1 and {MAX_LIMIT}.")
    return filters


def _datetime(name: str, value: str) -> datetime:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadParameter(name, f"{name} must be an ISO 8601 date-time, e.g. 2026-03-01T12:00:00Z.")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _active(filters: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    states = AlertState.objects.active().select_related("rule", "source")
    if "state" in filters:
        states = states.filter(status=filters["state"])
    if "severity" in filters:
        states = states.filter(rule__severity=filters["severity"])
    if "source" in filters:
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
    if "severity" in filters:
        events = events.filter(severity=filters["severity"])
    if "source" in filters:
        events = events.filter(source=filters["source"])
    if "kind" in filters:
        events = events.filter(kind=filters["kind"])
    if "since" in filters:
        events = events.filter(occurred_at__gte=filters["since"])
    return [event.as_dict() for event in events.order_by("-occurred_at", "-pk")[: filters["limit"]]]
