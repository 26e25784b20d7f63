"""The OpenAPI description of ``GET /api/v1/alerts``, added to the API's document at start-up."""

from __future__ import annotations

from api.alerts_views import DEFAULT_LIMIT, KINDS, MAX_LIMIT, SEVERITIES, STATES
from api.openapi import NULLABLE_TIME, TIME, Schema, obj, ok, query, ref, register_paths, responses

ANY_OBJECT: Schema = {"type": ["object", "null"]}
SLUG: Schema = {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 64}


def schemas() -> dict[str, Schema]:
    rule = obj({"id": {"type": ["integer", "null"]}, "name": {"type": "string"}})
    return {
        "AlertRuleRef": rule,
        "ActiveAlert": obj(
            {
                "rule": ref("AlertRuleRef"),
                "source": {"type": "string"},
                "severity": {"enum": list(SEVERITIES)},
                "state": {"enum": list(STATES)},
                "condition": {"type": "string"},
                "value": ANY_OBJECT,
                "pending_since": NULLABLE_TIME,
                "firing_since": NULLABLE_TIME,
                "fired_event_id": {"type": ["integer", "null"]},
                "silenced": {"type": "boolean"},
            }
        ),
        "AlertEvent": obj(
            {
                "id": {"type": "integer"},
                "kind": {"enum": list(KINDS)},
                "rule": ref("AlertRuleRef"),
                "source": {"type": "string"},
                "severity": {"enum": list(SEVERITIES)},
                "condition": {"type": "string"},
                "value": ANY_OBJECT,
                "message": {"type": "string"},
                "poll_id": {"type": "string"},
                "occurred_at": TIME,
                "silenced": {"type": "boolean"},
                "fired_event_id": {"type": ["integer", "null"]},
            }
        ),
        "AlertList": obj(
            {
                "generated_at": TIME,
                "active": {"type": "array", "items": ref("ActiveAlert")},
                "events": {"type": "array", "items": ref("AlertEvent")},
            }
        ),
    }


def paths() -> dict[str, Schema]:
    return {
        "/api/v1/alerts": {
            "get": {
                "operationId": "listAlerts",
                "summary": "Active alerts (firing, then pending) and recent alert events, newest first.",
                "parameters": [
                    query("state", {"enum": list(STATES)}, "Only active alerts in this state."),
                    query("source", SLUG, "Only this source (alerts and events).", example="us-east"),
                    query("severity", {"enum": list(SEVERITIES)}, "Only this severity (alerts and events)."),
                    query("kind", {"enum": list(KINDS)}, "Only events of this kind."),
                    query("since", {"type": "string"}, "Only events at or after this time (ISO 8601 or Unix seconds)."),
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                        f"Events returned (default {DEFAULT_LIMIT}).",
                    ),
                ],
                "responses": responses(
                    ok("Active alerts and recent events.", "AlertList"), ("400", "401", "429", "500")
                ),
            }
        }
    }


def register() -> None:
    register_paths(paths(), schemas=schemas())
