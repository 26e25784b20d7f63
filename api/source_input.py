"""Applying a JSON body to a Source with the admin's validation (the model's ``full_clean``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from api.errors import field_errors
from pollers.models import MASK, Source

ALLOWED_SCHEMES = ("http", "https")
REQUIRED_ON_CREATE = ("slug", "name", "url")
READ_ONLY = frozenset(
    {"alert_state", "health", "created_at", "updated_at", "last_polled_at", "last_success_at", "circuit_state"}
)


def contains_nul(value: Any) -> bool:
    """True when a NUL character hides in ``value``: PostgreSQL refuses it in text, and the admin's forms too."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# What JSON type each writable field takes, checked before the model sees it: the admin's form
# fields coerce strings, but a JSON client can send any type and deserves a precise answer.
FIELD_TYPES: dict[str, tuple[str, Any]] = {
    "slug": ("a string", lambda v: isinstance(v, str)),
    "name": ("a string", lambda v: isinstance(v, str)),
    "url": ("a string", lambda v: isinstance(v, str)),
    "enabled": ("true or false", lambda v: isinstance(v, bool)),
    "interval_seconds": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "timeout_seconds": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "headers": ("an object of string values", _is_str_map),
    "region": ("a string", lambda v: isinstance(v, str)),
    "tags": ("a list of strings", _is_str_list),
    "metric_paths": ("an object of string values (metric name to dotted path)", _is_str_map),
    "volatile_paths": ("a list of strings", _is_str_list),
}


def apply_source_input(source: Source, data: dict[str, Any], *, creating: bool) -> None:
    """Set the given fields on ``source`` and validate it; raise a 400 naming every bad field."""
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        if name in READ_ONLY:
            errors[name] = ["read-only"]
        elif name not in FIELD_TYPES:
            errors[name] = ["unknown field"]
        elif name == "slug" and not creating:
            errors[name] = ["cannot be changed: its history is stored under it; create a new source instead"]
        elif not FIELD_TYPES[name][1](value):
            errors[name] = [f"must be {FIELD_TYPES[name][0]}"]
        elif contains_nul(value):
            errors[name] = ["must not contain NUL characters"]
        elif name == "headers":
            # A client that read the source back sends the masked values: keep the stored secret.
            current = source.headers or {}
            setattr(source, name, {k: (current[k] if v == MASK and k in current else v) for k, v in value.items()})
        else:
            setattr(source, name, value)
    if creating:
        for name in REQUIRED_ON_CREATE:
            if name not in data:
                errors.setdefault(name, []).append("required")
    if "url" not in errors and urlsplit(str(source.url)).scheme.lower() not in ALLOWED_SCHEMES:
        errors.setdefault("url", []).append("Enter a valid URL: the poller speaks http and https only.")
    try:
        # Fields already refused above are left out, so their raw JSON never reaches the model's cleaning.
        source.full_clean(exclude=list(errors))
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(str(m) for m in messages)
    if errors:
        raise field_errors(errors, "The source is invalid.")
