"""Every response under /api/ carries the one error shape and a request id, whatever produced it.

Errors can come from the URL resolver (404), ninja's method check (405), CommonMiddleware, CSRF, Django's
body limits or an unhandled exception; this middleware rewrites each into ``{"error": {...}}`` so clients
parse one shape, and a 500 names the request id instead of showing a traceback or a setting, DEBUG or not.
A response from an app below the API that says more than its status (accounts' staff-MFA refusal) names its
code, message and details in an ``api_error`` attribute, which the rewrite keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.log import log_response

from api.errors import ApiError, error_response
from metrics.stores.base import StoreError
from observability.context import sane_request_id

logger = logging.getLogger("api")
security_logger = logging.getLogger("django.security.api")

API_PREFIX = "/api/"
REQUEST_ID_HEADER = "X-Request-ID"
# Headers of the original response that still mean something on the rewritten one.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Vary")


def request_id_of(request: HttpRequest) -> str:
    """The id observability's middleware set, or (when it is not installed) the client's sane one or a new one."""
    existing = getattr(request, "request_id", None)
    if isinstance(existing, str) and existing:
        return existing
    request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER))
    request.request_id = request_id  # type: ignore[attr-defined]
    return request_id


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_api(request):
            return self.get_response(request)
        request_id = request_id_of(request)
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith("application/json"):
            response = self._reshape(request, response)
        if response.status_code >= 400:
            # Logged here, inside the request's context, so the line carries the request id; Django would
            # otherwise log it after every middleware has returned (once: log_response marks it logged).
            # Its stubs ask for an HttpResponse; it reads only the status code and attributes every response has.
            log_response(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,  # type: ignore[arg-type]
                request=request,
            )
        response[REQUEST_ID_HEADER] = request_id
        return response

    def _reshape(self, request: HttpRequest, original: HttpResponseBase) -> HttpResponse:
        status = original.status_code
        message = None
        details: dict[str, object] = {}
        headers = {}
        if status == 404:
            message = f"No API resource at {request.path}."
        elif status == 405 and original.has_header("Allow"):
            # Ninja's 405 lists the path's methods in set order: sorted here, and named in the body too.
            allowed = sorted(method.strip() for method in original["Allow"].split(",") if method.strip())
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; allowed: {headers['Allow']}."
            details = {"allowed": allowed}
        elif status == 500:
            details = {"request_id": request_id_of(request)}
        named = getattr(original, "api_error", None)
        if isinstance(named, dict):
            reshaped = error_response(status, named.get("code"), named.get("message"), named.get("details"))
        else:
            reshaped = error_response(status, message=message, details=details)
        # The view or decorator already logged the original (inside the request-id context);
        # without this Django's handler logs the reshaped one again, outside it.
        if getattr(original, "_has_been_logged", False):
            reshaped._has_been_logged = True  # type: ignore[attr-defined]
        for name in _KEPT_HEADERS:
            if original.has_header(name):
                reshaped[name] = headers.get(name, original[name])
        # Whoever logged the original (require_GET, the CSRF check) has logged this request already.
        reshaped._has_been_logged = getattr(original, "_has_been_logged", False)  # type: ignore[attr-defined]
        return reshaped

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        if isinstance(exception, ApiError):
            return exception.response()
        if isinstance(exception, RequestDataTooBig):
            return error_response(413)
        if isinstance(exception, Http404):
            return error_response(404, message=f"No API resource at {request.path}.")
        if isinstance(exception, PermissionDenied):
            return error_response(403)
        if isinstance(exception, SuspiciousOperation):
            security_logger.warning("suspicious request: %s", type(exception).__name__)
            return error_response(400)
        request_id = request_id_of(request)
        if isinstance(exception, StoreError):
            # The store's message can name hosts; the client gets the code, the log gets the cause.
            logger.warning("metric store unavailable (request %s): %s", request_id, type(exception).__name__)
            return error_response(
                503,
                "store_unavailable",
                "The metric store is unavailable; retry later.",
                {"request_id": request_id},
                {"Retry-After": "5"},
            )
        logger.error(
            "unhandled error in %s %s (request %s)",
            request.method,
            request.path,
            request_id,
            exc_info=exception,
            extra={"request_id": request_id},
        )
        response = error_response(500, details={"request_id": request_id})
        # Logged above, with the traceback: Django must not log it a second time without one.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
