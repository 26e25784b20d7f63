"""The one error shape of the API: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

# The code used when a response carries a bare status with no more specific code.
DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
DEFAULT_MESSAGES = {
    400: "The request is malformed.",
    401: "Authentication required: send a session cookie or 'Authorization: Bearer <token>'.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "Method not allowed.",
    406: "Not acceptable.",
    409: "Conflict.",
    412: "A precondition in the request headers did not hold.",
    413: "The request body is too large.",
    415: "Unsupported media type: send application/json.",
    429: "Too many requests: retry after the number of seconds in Retry-After.",
    500: "Internal error. Quote the request id when reporting it.",
    503: "A dependency is unavailable; retry later.",
}


class ApiError(Exception):
    """Raised anywhere below a view to answer with the error shape."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.message = message or DEFAULT_MESSAGES.get(status, "Error.")
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(f"{self.status} {self.code}: {self.message}")

    def response(self) -> JsonResponse:
        return error_response(self.status, self.code, self.message, self.details, self.headers)


def error_response(
    status: int,
    code: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    body = {
        "error": {
            "code": code or DEFAULT_CODES.get(status, "error"),
            "message": message or DEFAULT_MESSAGES.get(status, "Error."),
            "details": details or {},
        }
    }
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_errors(fields: dict[str, list[str]], message: str = "Some parameters are invalid.") -> ApiError:
    """A 400 whose details name each bad field or parameter with what is wrong with it."""
    return ApiError(400, "invalid_parameters", message, {"fields": fields})
