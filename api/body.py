"""Reading a JSON request body: 415 for another media type, 413 over the limit, 400 for bad JSON.

The body is measured against its JSON budget (``metrics.jsonlimits.api_body_budget``) before it is
parsed, so a deeply nested body is a 400 ``body_too_deep``, never a ``RecursionError`` and a 500.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from api.errors import ApiError
from metrics import jsonlimits


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def bounded_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refused (413) before it is read when Content-Length says it is over ``limit`` bytes,
    and after when it turns out to be; a Content-Length that is not a number is a 400."""
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
    return raw


def unsupported_media_type(request: HttpRequest, expected: str) -> ApiError:
    """A 415 whose message names what the endpoint takes, as ``details.expected`` does (one wording for both)."""
    return ApiError(
        415,
        message=f"Unsupported media type: send {expected}.",
        details={"content_type": request.content_type or None, "expected": expected},
    )


def json_object(request: HttpRequest) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise unsupported_media_type(request, "application/json")
    raw = bounded_body(request, settings.API_MAX_BODY_BYTES)
    try:
        text = raw.decode("utf-8")
        data = jsonlimits.loads(text, jsonlimits.api_body_budget(), parse_constant=_refuse_constant)
    except jsonlimits.JsonBudgetError as exc:
        raise budget_error(exc) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.", {"reason": str(exc)[:200]}) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data


# A budget refusal's code; each names the limit in its details (the message names the setting).
_BUDGET_CODES = {"too_deep": "body_too_deep", "too_many_items": "body_too_many_items"}


def budget_error(exc: jsonlimits.JsonBudgetError) -> ApiError:
    """413 when the body is too large; 400 ``body_too_deep`` / ``body_too_many_items`` over the shape budget."""
    if exc.kind == "too_large":
        return ApiError(413, details={"limit_bytes": exc.limit})
    return ApiError(400, _BUDGET_CODES[exc.kind], _sentence(str(exc)), {"limit": exc.limit})


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."
