"""The shapes of ``GET /api/v1/alerts``: what ``api.alerts_views`` returns, validated on the way out and documented
in the API's generated OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from alerts.models import AlertEvent as AlertEventModel
from alerts.models import RuleState, Severity
from api.params import OneOf
from api.schemas import OptionalTime, Strict, Time

STATES = (RuleState.Status.FIRING.value, RuleState.Status.PENDING.value)
SEVERITIES = tuple(Severity.values)
KINDS = tuple(AlertEventModel.Kind.values)

State = Annotated[str, OneOf(STATES)]
SeverityName = Annotated[str, OneOf(SEVERITIES)]
Kind = Annotated[str, OneOf(KINDS)]


class AlertRuleRef(Strict):
    id: int | None = Field(description="null once the rule is deleted; its name stays.")
    name: str


class ActiveAlert(Strict):
    rule: AlertRuleRef
    source: str
    severity: SeverityName
    state: State
    condition: str
    value: dict[str, Any] | None
    pending_since: OptionalTime
    firing_since: OptionalTime
    fired_event_id: int | None
    silenced: bool


class AlertEvent(Strict):
    id: int
    kind: Kind
    rule: AlertRuleRef
    source: str
    severity: SeverityName
    condition: str
    value: dict[str, Any] | None
    message: str
    poll_id: str
    occurred_at: Time
    silenced: bool
    fired_event_id: int | None


class AlertList(Strict):
    generated_at: Time
    active: list[ActiveAlert]
    events: list[AlertEvent]
