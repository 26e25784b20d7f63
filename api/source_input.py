"""Applying a validated body (``api.schemas.SourceCreate`` / ``SourceUpdate``) to a Source with the admin's
validation: the model's ``full_clean``, which also runs the SSRF guard and the uniqueness checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from api.errors import field_errors
from pollers.models import MASK, Source

ALLOWED_SCHEMES = ("http", "https")


def apply_source_input(source: Source, data: dict[str, Any]) -> None:
    """Set the given fields on ``source`` and validate it; raise a 400 naming every bad field."""
    for name, value in data.items():
        if name == "headers":
            # A client that read the source back sends the masked values: keep the stored secret.
            current = source.headers or {}
            value = {k: (current[k] if v == MASK and k in current else v) for k, v in value.items()}
        setattr(source, name, value)
    errors: dict[str, list[str]] = {}
    if urlsplit(str(source.url)).scheme.lower() not in ALLOWED_SCHEMES:
        errors["url"] = ["Enter a valid URL: the poller speaks http and https only."]
    try:
        # A URL already refused above is left out, so the model's own URL checks do not run on it.
        source.full_clean(exclude=list(errors))
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(str(m) for m in messages)
    if errors:
        raise field_errors(errors, "The source is invalid.")
