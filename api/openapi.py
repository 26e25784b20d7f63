"""The OpenAPI 3.1 document of ``/api/v1/``, kept next to the views it describes.

Response schemas are strict (``additionalProperties: false``) so that the contract test
(schemathesis, tests/test_api_contract.py) fails when a view and this document drift apart.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

import devops_insights
from api.export_views import FORMATS
from api.params import BUCKETS

Schema = dict[str, Any]

# Endpoints kept in their own modules (api.alerts_openapi documents /api/v1/alerts) register here, from an
# AppConfig.ready(), so the contract test covers them too: ``register_paths({...}, schemas={...})``.
_EXTRA_PATHS: dict[str, Schema] = {}
_EXTRA_SCHEMAS: dict[str, Schema] = {}


def register_paths(paths: dict[str, Schema], schemas: dict[str, Schema] | None = None) -> None:
    """Add path items (and component schemas they ``$ref``) to the served document."""
    _EXTRA_PATHS.update(paths)
    _EXTRA_SCHEMAS.update(schemas or {})


TIMESTAMP_HELP = "ISO 8601 (`2026-01-31T12:00:00Z`; no offset means UTC) or Unix seconds."
NULLABLE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
TIME: Schema = {"type": "string", "format": "date-time"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def json_content(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def error(description: str) -> Schema:
    return {"description": description, "content": json_content(ref("Error"))}


ERRORS: dict[str, Schema] = {
    "400": error("Invalid parameters or body; `details.fields` names each problem."),
    "401": error("No or bad credentials."),
    "403": error("Credentials lack the scope or staff rights this needs."),
    "404": error("No such resource."),
    "405": error("Method not allowed (see the Allow header)."),
    "413": error("Body larger than the limit."),
    "415": error("Body is not application/json."),
    "429": {
        "description": "Rate limited; retry after the Retry-After seconds.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": json_content(ref("Error")),
    },
    "500": error("Internal error; `details.request_id` identifies it in the logs."),
    "503": error("The metric store is unavailable."),
}
READ_ERRORS = ("400", "401", "404", "429", "500", "503")
WRITE_ERRORS = ("400", "401", "403", "404", "413", "415", "429", "500", "503")


def responses(ok: dict[str, Schema], errors: tuple[str, ...], *, conditional: bool = False) -> Schema:
    result = dict(ok)
    if conditional:
        result["304"] = {"description": "Not modified (If-None-Match or If-Modified-Since matched)."}
    for code in errors:
        result[code] = ERRORS[code]
    return result


def query(name: str, schema: Schema, description: str, *, required: bool = False, example: Any = None) -> Schema:
    param = {"name": name, "in": "query", "required": required, "schema": schema, "description": description}
    if example is not None:
        param["example"] = example
    return param


SLUG = {
    "name": "slug",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "example": "us-east",
    "description": "The source's slug.",
}


def range_params() -> list[Schema]:
    return [
        query("from", {"type": "string"}, f"Start of the range, included. {TIMESTAMP_HELP}"),
        query("to", {"type": "string"}, f"End of the range, excluded. {TIMESTAMP_HELP}"),
    ]


def page_params() -> list[Schema]:
    return [
        *range_params(),
        query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE},
            f"Entries per page (default {settings.API_PAGE_SIZE}).",
        ),
        query("cursor", {"type": "string"}, "`next_cursor` of the previous page."),
    ]


def schemas() -> dict[str, Schema]:
    metric_map: Schema = {"type": "object", "additionalProperties": {"type": "number"}}
    string_map: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
    string_list: Schema = {"type": "array", "items": {"type": "string"}}
    change = obj({"path": {"type": "string"}, "kind": {"enum": ["changed", "added", "removed"]}, "old": {}, "new": {}})
    writable: dict[str, Schema] = {
        "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 64},
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "url": {"type": "string", "format": "uri", "maxLength": 2000},
        "enabled": {"type": "boolean"},
        "interval_seconds": {"type": "integer", "minimum": 5, "maximum": 86400},
        "timeout_seconds": {"type": "number", "minimum": 0.5, "maximum": 120},
        "headers": string_map,
        "region": {"type": "string", "maxLength": 64},
        "tags": string_list,
        "metric_paths": string_map,
        "volatile_paths": string_list,
    }
    return {
        "Error": obj(
            {
                "error": obj(
                    {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                    }
                )
            }
        ),
        "PollHealth": obj(
            {
                "status": {"enum": ["disabled", "pending", "ok", "failing", "stale"]},
                "last_polled_at": NULLABLE_TIME,
                "last_success_at": NULLABLE_TIME,
                "last_error_at": NULLABLE_TIME,
                "last_error_kind": {"type": "string"},
                "last_error_message": {"type": "string"},
                "consecutive_failures": {"type": "integer", "minimum": 0},
                "circuit_state": {"enum": ["closed", "open", "half_open"]},
                "last_latency_ms": {"type": ["number", "null"]},
                "last_status_code": {"type": ["integer", "null"]},
            }
        ),
        "Source": obj(
            {
                **writable,
                "url": {"type": "string", "description": "Passwords and credential-like query values masked."},
                "headers": {**string_map, "description": "Credential header values masked as ••••••."},
                "alert_state": {"enum": ["ok", "degraded", "critical"]},
                "created_at": TIME,
                "updated_at": TIME,
                "health": ref("PollHealth"),
            }
        ),
        "SourceList": obj({"sources": {"type": "array", "items": ref("Source")}}),
        "SourceCreate": obj(writable, required=["slug", "name", "url"]),
        "SourceUpdate": {**obj({k: v for k, v in writable.items() if k != "slug"}, required=[]), "minProperties": 0},
        "Snapshot": obj(
            {
                "source": {"type": "string"},
                "hash": {"type": "string"},
                "sequence": {"type": "integer"},
                "fetched_at": TIME,
                "last_seen_at": TIME,
                "metrics": metric_map,
                "payload": {"type": "object"},
            },
            required=["source", "hash", "sequence", "fetched_at", "last_seen_at", "metrics"],
        ),
        "SnapshotIndex": obj({"sources": {"type": "object", "additionalProperties": ref("Snapshot")}}),
        "Change": change,
        "HistoryEntry": obj(
            {
                "id": {"type": "string"},
                "hash": {"type": "string"},
                "sequence": {"type": "integer"},
                "fetched_at": TIME,
                "metrics": metric_map,
                "diff": {"type": "array", "items": ref("Change")},
                "payload": {"type": "object"},
            }
        ),
        "HistoryPage": obj(
            {
                "source": {"type": "string"},
                "entries": {"type": "array", "items": ref("HistoryEntry")},
                "next_cursor": {"type": ["string", "null"]},
                "next": {"type": ["string", "null"]},
            }
        ),
        "ChangesEntry": obj(
            {
                "id": {"type": "string"},
                "hash": {"type": "string"},
                "sequence": {"type": "integer"},
                "fetched_at": TIME,
                "changes": {"type": "array", "items": ref("Change")},
            }
        ),
        "ChangesPage": obj(
            {
                "source": {"type": "string"},
                "entries": {"type": "array", "items": ref("ChangesEntry")},
                "next_cursor": {"type": ["string", "null"]},
                "next": {"type": ["string", "null"]},
            }
        ),
        "Bucket": obj(
            {
                "start": TIME,
                "min": {"type": "number"},
                "avg": {"type": "number"},
                "max": {"type": "number"},
                "count": {"type": "integer", "minimum": 0},
            }
        ),
        "Series": obj(
            {
                "source": {"type": "string"},
                "metric": {"type": "string"},
                "bucket": {"enum": list(BUCKETS)},
                "from": TIME,
                "to": TIME,
                "buckets": {"type": "array", "items": ref("Bucket")},
            }
        ),
        "Check": obj(
            {"status": {"enum": ["ok", "down"]}, "latency_ms": {"type": "number"}, "detail": {"type": "string"}}
        ),
        "Ready": obj(
            {
                "status": {"enum": ["ready", "not_ready"]},
                "checks": obj(
                    {name: ref("Check") for name in ("database", "cache", "channel_layer", "metric_store", "poller")}
                ),
            }
        ),
        "Liveness": obj({"status": {"const": "ok"}}),
        "Info": obj(
            {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "api_version": {"const": "v1"},
                "backends": obj(
                    {
                        "database": {"type": "string"},
                        "cache": {"enum": ["redis", "local-memory"]},
                        "channel_layer": {"enum": ["redis", "in-memory"]},
                        "metric_store": {"type": "string"},
                    }
                ),
                "regions": string_list,
                "limits": obj(
                    {
                        "rate_limit_token": {"type": "string"},
                        "rate_limit_ip": {"type": "string"},
                        "max_page_size": {"type": "integer"},
                        "max_series_buckets": {"type": "integer"},
                    }
                ),
            }
        ),
    }


def ok(description: str, schema_name: str) -> dict[str, Schema]:
    return {"200": {"description": description, "content": json_content(ref(schema_name))}}


def paths() -> dict[str, Schema]:
    public: list[dict[str, list[str]]] = []
    return {
        "/api/v1/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness: the process answers (no dependency touched).",
                "security": public,
                "responses": {"200": {"description": "Alive.", "content": json_content(ref("Liveness"))}},
            }
        },
        "/api/v1/ready": {
            "get": {
                "operationId": "ready",
                "summary": "Readiness: database, cache, channel layer, metric store and poller heartbeat.",
                "security": public,
                "responses": {
                    "200": {"description": "Every dependency answers.", "content": json_content(ref("Ready"))},
                    "503": {"description": "At least one is down.", "content": json_content(ref("Ready"))},
                    "400": ERRORS["400"],
                },
            }
        },
        "/api/v1/info": {
            "get": {
                "operationId": "info",
                "summary": "Version, enabled backends, regions and limits.",
                "responses": responses(ok("Service information.", "Info"), ("400", "401", "429"), conditional=True),
            }
        },
        "/api/v1/sources": {
            "get": {
                "operationId": "listSources",
                "summary": "Every source: definition, poll health and alert state.",
                "parameters": [
                    query("region", {"type": "string"}, "Only sources of this region."),
                    query("tag", {"type": "string"}, "Only sources with this tag."),
                    query("enabled", {"enum": ["true", "false"]}, "Only enabled or disabled sources."),
                ],
                "responses": responses(ok("The sources.", "SourceList"), READ_ERRORS, conditional=True),
            },
            "post": {
                "operationId": "createSource",
                "summary": "Create a source (staff user, write-scoped token). Validated like the admin.",
                "requestBody": {"required": True, "content": json_content(ref("SourceCreate"))},
                "responses": responses(
                    {
                        "201": {
                            "description": "Created.",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": json_content(ref("Source")),
                        }
                    },
                    WRITE_ERRORS,
                ),
            },
        },
        "/api/v1/sources/{slug}": {
            "parameters": [SLUG],
            "get": {
                "operationId": "getSource",
                "summary": "One source: definition, poll health and alert state.",
                "responses": responses(ok("The source.", "Source"), READ_ERRORS, conditional=True),
            },
            "patch": {
                "operationId": "updateSource",
                "summary": "Change some fields of a source (staff user, write-scoped token).",
                "requestBody": {"required": True, "content": json_content(ref("SourceUpdate"))},
                "responses": responses(ok("The changed source.", "Source"), WRITE_ERRORS),
            },
            "delete": {
                "operationId": "deleteSource",
                "summary": "Delete a source and its stored metrics (staff user, write-scoped token).",
                "responses": responses(
                    {"204": {"description": "Deleted."}}, tuple(c for c in WRITE_ERRORS if c not in ("413", "415"))
                ),
            },
        },
        "/api/v1/metrics": {
            "get": {
                "operationId": "latestMetrics",
                "summary": "The latest snapshot of every source, in one response.",
                "parameters": [query("payload", {"enum": ["true", "false"]}, "Include each raw payload.")],
                "responses": responses(ok("Latest snapshots by slug.", "SnapshotIndex"), READ_ERRORS, conditional=True),
            }
        },
        "/api/v1/metrics/{slug}": {
            "parameters": [SLUG],
            "get": {
                "operationId": "sourceMetrics",
                "summary": "The latest snapshot of a source, with its payload.",
                "responses": responses(ok("The latest snapshot.", "Snapshot"), READ_ERRORS, conditional=True),
            },
        },
        "/api/v1/metrics/{slug}/history": {
            "parameters": [SLUG],
            "get": {
                "operationId": "sourceHistory",
                "summary": "Stored snapshots, newest first, cursor-paginated.",
                "parameters": page_params(),
                "responses": responses(ok("One page of history.", "HistoryPage"), READ_ERRORS, conditional=True),
            },
        },
        "/api/v1/metrics/{slug}/changes": {
            "parameters": [SLUG],
            "get": {
                "operationId": "sourceChanges",
                "summary": "The field-level diffs of stored snapshots, newest first, cursor-paginated.",
                "parameters": page_params(),
                "responses": responses(ok("One page of changes.", "ChangesPage"), READ_ERRORS, conditional=True),
            },
        },
        "/api/v1/metrics/{slug}/series": {
            "parameters": [SLUG],
            "get": {
                "operationId": "sourceSeries",
                "summary": "A metric in time buckets (min, avg, max, count), computed in the database.",
                "parameters": [
                    query(
                        "metric", {"type": "string"}, "A metric name of the source.", required=True, example="cpu_load"
                    ),
                    *range_params(),
                    query("bucket", {"enum": list(BUCKETS)}, "Bucket width (default 5m)."),
                ],
                "responses": responses(ok("The buckets, oldest first.", "Series"), READ_ERRORS, conditional=True),
            },
        },
        "/api/v1/export/{slug}": {
            "parameters": [SLUG],
            "get": {
                "operationId": "exportHistory",
                "summary": "The whole history in a range, streamed as CSV or NDJSON (newest first).",
                "parameters": [query("format", {"enum": list(FORMATS)}, "Default csv."), *range_params()],
                "responses": responses(
                    {
                        "200": {
                            "description": "The export, streamed.",
                            "content": {
                                "text/csv": {"schema": {"type": "string"}},
                                "application/x-ndjson": {"schema": {"type": "string"}},
                            },
                        }
                    },
                    READ_ERRORS,
                ),
            },
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "security": public,
                "responses": responses({"200": {"description": "OpenAPI 3.1."}}, ("400",), conditional=True),
            }
        },
    }


def openapi_document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DevOps Insights API",
            "version": devops_insights.__version__,
            "description": (
                "Sources, latest snapshots, history, series, changes and exports. Authenticate with a "
                "browser session or `Authorization: Bearer <token>`. Every error is "
                '`{"error": {"code", "message", "details"}}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"sessionAuth": []}],
        "paths": {**paths(), **_EXTRA_PATHS},
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token (dit_...)."},
                "sessionAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
            "schemas": {**schemas(), **_EXTRA_SCHEMAS},
        },
    }
