"""Pydantic's validation errors as the API reports them: a 400 whose ``details.fields`` names each bad field.

Ninja would answer ``422 {"detail": [...]}`` with pydantic's wording and locations; clients of this API get
the one error shape (``api.errors``), a short sentence per problem, and the field or parameter as the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ninja.errors import ValidationError
from pydantic_core import ErrorDetails

from api.errors import ApiError, field_errors

# A problem said the same way wherever pydantic found it: pydantic's error type to our sentence.
MESSAGES: dict[str, str] = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "string_too_long": "longer than {max_length} characters",
    "string_too_short": "must be at least {min_length} characters long",
    "string_pattern_mismatch": "must match {pattern}",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
}


# Lengths pydantic checks generically, when a validator (api.params.Text's NUL check) runs before them.
LENGTHS: dict[str, str] = {
    "too_long": "longer than {max_length} {unit}",
    "too_short": "must be at least {min_length} {unit} long",
}


def sentence(error: ErrorDetails) -> str:
    """What is wrong, in one short sentence; our own validators' errors (PydanticCustomError) say it themselves."""
    if error["type"] in LENGTHS:
        ctx = error.get("ctx", {})
        if error["type"] == "too_short" and ctx.get("min_length") == 1:
            return "must not be empty"
        unit = "characters" if isinstance(error.get("input"), str) else "items"
        return LENGTHS[error["type"]].format(unit=unit, **ctx)
    template = MESSAGES.get(error["type"])
    if template is None:
        return str(error["msg"])
    try:
        return template.format(**{name: _plain(value) for name, value in error.get("ctx", {}).items()})
    except (KeyError, IndexError):
        return str(error["msg"])


def _plain(value: Any) -> Any:
    """A bound as a person writes it: 120, not 120.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def collect(problems: Iterable[tuple[str, str]], into: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """``{field: [sentence, ...]}`` without repeating a sentence (pydantic reports each failed union branch)."""
    fields = into if into is not None else {}
    for name, problem in problems:
        found = fields.setdefault(name, [])
        if problem not in found:
            found.append(problem)
    return fields


class FieldErrors(ValidationError):
    """Ninja's validation error, already translated: what the exception handler answers with."""

    def __init__(self, fields: Mapping[str, list[str]], message: str) -> None:
        self.fields = dict(fields)
        self.message = message
        super().__init__([{"loc": (name,), "msg": "; ".join(problems)} for name, problems in fields.items()])

    def as_api_error(self) -> ApiError:
        return field_errors(self.fields, self.message)


def field_of(source: str, model: Any, loc: tuple[Any, ...]) -> tuple[str, str | None]:
    """The name a client knows a failed value by, and a refusal message its schema gives for it, if any.

    A query or path model has one field per parameter (or one per declared schema, flattened by ninja, whose
    location then starts with the schema's field name); a body model has one field holding the body schema.
    """
    if not loc:
        return source, None
    if source == "body":
        if len(loc) == 1:
            return "body", None
        schema = getattr(model.model_fields.get(str(loc[0])), "annotation", None)
        refusals: Mapping[str, str] = getattr(schema, "refused_fields", {})
        return str(loc[1]), refusals.get(str(loc[1]))
    reverse = getattr(model, "__ninja_flatten_map_reverse__", {})
    for size in range(len(loc), 0, -1):
        if tuple(loc[:size]) in reverse:
            return str(reverse[tuple(loc[:size])][0]), None
    return str(loc[0]), None
