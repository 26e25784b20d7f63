"""Reading a JSON request body: 415 for another media type, 413 over the limit, 400 for bad JSON."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from api.errors import ApiError


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_object(request: HttpRequest) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, details={"content_type": request.content_type or None, "expected": "application/json"})
    limit = settings.API_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "bad_content_length", "Content-Length is not a number.") from None
    if declared > limit:
        raise ApiError(413, details={"limit_bytes": limit})
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, details={"limit_bytes": limit}) from None
    if len(raw) > limit:
        raise ApiError(413, details={"limit_bytes": limit})
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.", {"reason": str(exc)[:200]}) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data
