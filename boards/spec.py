"""The one board document format: what the editor saves, what export writes, what import and the
configuration-as-code files accept (docs/boards.md, "The board document").

``validate`` checks a document against ``SCHEMA`` (JSON Schema) and the rules a schema cannot say
(unique panel ids, panels inside the 12-column grid, ``$variables`` that exist, a phone order of panels
that exist), and raises
``SpecError`` with one message per problem, each naming its path (``panels[2].metrics[0]``).
Nothing here reads the database: which sources a selector names is decided when a panel is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

FORMAT = "devops-insights.board/1"
GRID_COLUMNS = 12
MAX_PANELS = 48
MAX_SERIES_PER_PANEL = 64  # sources x metrics of one time-series panel (MetricStore.series_many allows 200)
MAX_NOTE_CHARS = 20_000
TIME_RANGES: dict[str, int] = {  # name -> seconds
    "15m": 900,
    "1h": 3600,
    "6h": 21600,
    "24h": 86400,
    "7d": 604800,
    "30d": 2592000,
    "90d": 7776000,
}
REFRESH_CHOICES = (0, 10, 30, 60, 300)  # seconds; 0: no auto-refresh (live updates still arrive)
PANEL_TYPES = ("timeseries", "stat", "table", "bar", "status", "note")
VARIABLE_KINDS = ("region", "tag", "source")
NAME = r"^[a-z][a-z0-9_]{0,31}$"
METRIC = r"^[A-Za-z0-9_.:-]{1,100}$"
# A source selector: a slug, "region:<region>", "tag:<tag>" or "*" (every source the viewer may read);
# any part may be a "$variable".
SELECTOR = r"^(\*|\$[a-z][a-z0-9_]{0,31}|(region:|tag:)?[A-Za-z0-9_.$-]{1,64})$"
VARIABLE_USE = re.compile(r"\$([a-z][a-z0-9_]{0,31})")

_sources = {"type": "array", "items": {"type": "string", "pattern": SELECTOR}, "minItems": 1, "maxItems": 32}
_metrics = {"type": "array", "items": {"type": "string", "pattern": METRIC}, "minItems": 1, "maxItems": 16}
_metric = {"type": "string", "pattern": METRIC}
PANEL_ID = r"^[A-Za-z0-9_-]{1,32}$"
_layout = {
    "id": {"type": "string", "pattern": PANEL_ID},
    "type": {"enum": list(PANEL_TYPES)},
    "title": {"type": "string", "maxLength": 120},
    "x": {"type": "integer", "minimum": 0, "maximum": GRID_COLUMNS - 1},
    "y": {"type": "integer", "minimum": 0, "maximum": 1000},
    "w": {"type": "integer", "minimum": 1, "maximum": GRID_COLUMNS},
    "h": {"type": "integer", "minimum": 1, "maximum": 24},
}
_base_required = ["id", "type", "x", "y", "w", "h"]


def _panel(type_: str, fields: dict[str, Any], required: Iterable[str]) -> dict[str, Any]:
    return {
        "if": {"properties": {"type": {"const": type_}}, "required": ["type"]},
        "then": {
            "properties": {**_layout, **fields},
            "required": [*_base_required, *required],
            "additionalProperties": False,
        },
    }


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "title", "panels"],
    "properties": {
        "format": {"const": FORMAT},
        "title": {"type": "string", "minLength": 1, "maxLength": 120},
        "slug": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,63}$"},
        "team": {"type": "string", "pattern": r"^[-a-zA-Z0-9_]{1,50}$"},
        "time_range": {"enum": list(TIME_RANGES)},
        "refresh": {"enum": list(REFRESH_CHOICES)},
        "variables": {
            "type": "array",
            "maxItems": 8,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "kind"],
                "properties": {
                    "name": {"type": "string", "pattern": NAME},
                    "kind": {"enum": list(VARIABLE_KINDS)},
                    "default": {"type": "string", "maxLength": 64},
                },
            },
        },
        # The panels' order in the one-column (phone) layout, by id; panels not listed follow in the 12-column
        # layout's reading order (top to bottom, then left to right). Absent: that reading order alone.
        "phone_order": {
            "type": "array",
            "maxItems": MAX_PANELS,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": PANEL_ID},
        },
        "panels": {
            "type": "array",
            "maxItems": MAX_PANELS,
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": list(PANEL_TYPES)}},
                "allOf": [
                    _panel(
                        "timeseries",
                        {
                            "sources": _sources,
                            "metrics": _metrics,
                            "style": {"enum": ["line", "area"]},
                            "band": {"type": "boolean"},
                        },
                        ["sources", "metrics"],
                    ),
                    _panel("stat", {"sources": _sources, "metric": _metric}, ["sources", "metric"]),
                    _panel("table", {"sources": _sources, "metrics": _metrics}, ["sources", "metrics"]),
                    _panel("bar", {"sources": _sources, "metric": _metric}, ["sources", "metric"]),
                    _panel("status", {"sources": _sources}, ["sources"]),
                    _panel("note", {"text": {"type": "string", "maxLength": MAX_NOTE_CHARS}}, ["text"]),
                ],
            },
        },
    },
}
_validator = Draft202012Validator(SCHEMA)
DEFAULTS: dict[str, Any] = {"time_range": "24h", "refresh": 0, "variables": []}


class SpecError(ValueError):
    """A board document that does not follow the format; ``problems`` maps each path to its messages."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        self.problems = problems
        first = next(iter(problems.items()))
        super().__init__(
            f"{first[0]}: {first[1][0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )


def path_of(parts: Iterable[Any]) -> str:
    """``["panels", 2, "metrics", 0]`` -> ``panels[2].metrics[0]``; the document itself is ``$``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def _message(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        return str(error.message).replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "enum":
        return f"must be one of {', '.join(str(v) for v in error.validator_value)}"
    if error.validator == "pattern":
        return f"{error.instance!r} is not allowed here (expected {error.validator_value})"
    if error.validator == "const":
        return f"must be {error.validator_value!r}"
    return str(error.message)


def validate(document: Any) -> dict[str, Any]:
    """The document with defaults filled in, or SpecError naming every problem by path."""
    problems: dict[str, list[str]] = {}
    for error in sorted(_validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        if error.validator in ("if", "allOf"):
            continue  # the branch's own errors are reported beneath it
        parts = list(error.absolute_path)
        message = _message(error)
        if error.validator == "required":  # named at the missing field itself: "panels[0].sources: required"
            missing = [name for name in error.validator_value if name not in (error.instance or {})]
            parts, message = [*parts, missing[0] if missing else "?"], "required"
        problems.setdefault(path_of(parts), []).append(message)
    if problems:
        raise SpecError(problems)
    assert isinstance(document, dict)
    doc: dict[str, Any] = {**DEFAULTS, **document}
    _check_rules(doc, problems)
    if problems:
        raise SpecError(problems)
    return doc


def _check_rules(doc: dict[str, Any], problems: dict[str, list[str]]) -> None:
    names = [v["name"] for v in doc["variables"]]
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.setdefault(f"variables[{index}].name", []).append(f"{name!r} is defined twice")
    seen: set[str] = set()
    for index, panel in enumerate(doc["panels"]):
        where = f"panels[{index}]"
        if panel["id"] in seen:
            problems.setdefault(f"{where}.id", []).append(f"{panel['id']!r} is used by another panel")
        seen.add(panel["id"])
        if panel["x"] + panel["w"] > GRID_COLUMNS:
            problems.setdefault(f"{where}.w", []).append(f"x + w must be at most {GRID_COLUMNS}")
        for position, selector in enumerate(panel.get("sources", [])):
            for used in VARIABLE_USE.findall(selector):
                if used not in names:
                    problems.setdefault(f"{where}.sources[{position}]", []).append(f"no variable named ${used}")
        if panel["type"] == "timeseries" and len(panel["sources"]) * len(panel["metrics"]) > MAX_SERIES_PER_PANEL:
            problems.setdefault(f"{where}.metrics", []).append(
                f"sources x metrics must be at most {MAX_SERIES_PER_PANEL} per panel"
            )
    for index, panel_id in enumerate(doc.get("phone_order", [])):
        if panel_id not in seen:
            problems.setdefault(f"phone_order[{index}]", []).append(f"no panel with id {panel_id!r}")
