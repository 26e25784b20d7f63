"""The JSON Schema (Draft 2020-12) of the configuration files, generated from the section registry.

Published at ``GET /api/v1/config/schema.json`` and committed as ``docs/config-schema.json`` (a test keeps
the two equal), so editors complete and check the files. The plan checks the same rules itself, from the same
``Field`` declarations (and the models' own validation), with messages naming file and line.
"""

from __future__ import annotations

import json
from typing import Any

from provisioning import secrets
from provisioning.sections import SECTIONS
from provisioning.sections.base import (
    BOOLEAN,
    DATETIME,
    HEADERS,
    INTEGER,
    LIST,
    NUMBER,
    SECRET,
    STRING,
    STRING_MAP,
    STRINGS,
    Field,
    Section,
)

SCHEMA_ID = "https://devops-insights.invalid/config-schema.json"


def field_schema(spec: Field) -> dict[str, Any]:
    kind = spec.type
    schema: dict[str, Any]
    if kind == STRING:
        schema = {"type": "string"}
        if spec.enum is not None:
            schema["enum"] = list(spec.enum)
        if spec.max_length is not None:
            schema["maxLength"] = spec.max_length
    elif kind in (INTEGER, NUMBER):
        schema = {"type": kind}
        if spec.minimum is not None:
            schema["minimum"] = spec.minimum
        if spec.maximum is not None:
            schema["maximum"] = spec.maximum
    elif kind == BOOLEAN:
        schema = {"type": "boolean"}
    elif kind == STRINGS:
        schema = {"type": "array", "items": {"type": "string"}}
    elif kind == LIST:
        schema = {"type": "array"}
    elif kind == STRING_MAP:
        schema = {"type": "object", "additionalProperties": {"type": "string"}}
    elif kind == HEADERS:
        schema = {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"}, secrets.REFERENCE_SCHEMA]}}
    elif kind == SECRET:
        schema = dict(secrets.REFERENCE_SCHEMA)
    elif kind == DATETIME:
        schema = {"type": "string", "format": "date-time"}
    else:
        raise ValueError(f"unknown field type {kind}")
    if spec.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if spec.description:
        schema["description"] = spec.description
    return schema


def item_schema(section: Section) -> dict[str, Any]:
    own = section.item_schema()
    if own is not None:
        return own
    return {
        "type": "object",
        "properties": {spec.key: field_schema(spec) for spec in section.fields},
        "required": [spec.key for spec in section.fields if spec.required],
        "additionalProperties": False,
    }


def config_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {"version": {"const": 1, "description": "The format's version."}}
    for section in SECTIONS:
        properties[section.name] = {
            "description": section.title,
            "type": ["array", "null"],
            "items": {"$ref": f"#/$defs/{section.name}"},
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "DevOps Insights configuration (docs/config-as-code.md)",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": {section.name: item_schema(section) for section in SECTIONS},
    }


def schema_text() -> str:
    """The schema as committed in docs/config-schema.json (stable key order, newline at the end)."""
    return json.dumps(config_schema(), indent=2, sort_keys=True, default=str) + "\n"
