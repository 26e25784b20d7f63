"""The shape of an audit event in ``/api/v1/audit`` and its NDJSON export (``api.audit_views``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from accounts.models import AuditEvent
from api.schemas import Strict, Time
from metrics.serialization import time_json


class AuditEventOut(Strict):
    id: int
    at: Time
    action: str = Field(examples=["update"])
    actor: str = Field(description="The user name, or command:<name> / system for changes made outside a request.")
    token_prefix: str = Field(description="The API token the change came through, if any.")
    team: str | None = Field(description="The slug of the object's team; null for account events.")
    ip: str | None
    user_agent: str
    request_id: str
    object_type: str = Field(examples=["pollers.source"])
    object_id: str
    before: dict[str, Any] | None = Field(description="Fields before the change, secrets masked.")
    after: dict[str, Any] | None = Field(description="Fields after the change, secrets masked.")
    detail: dict[str, Any]


class AuditPage(Strict):
    events: list[AuditEventOut]
    next_cursor: str | None
    next: str | None


def event_data(event: AuditEvent) -> dict[str, Any]:
    team = event.team if event.team_id is not None else None
    return {
        "id": event.pk,
        "at": time_json(event.created_at),
        "action": event.action,
        "actor": event.actor_label,
        "token_prefix": event.token_prefix,
        "team": getattr(team, "slug", None),
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
    }
