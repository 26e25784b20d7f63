"""Per-request observability: request id, request span, access log line and request metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from observability import instruments, tracing
from observability.access_log import redact_path
from observability.context import request_id_var, sane_request_id

REQUEST_ID_HEADER = "X-Request-ID"
access_logger = logging.getLogger("observability.access")


class RequestObservabilityMiddleware:
    """First in MIDDLEWARE: every later middleware and the view run with the request id bound.

    The id is the client's ``X-Request-ID`` when it is sane (see ``sane_request_id``), else a new
    one; it is returned in the response's ``X-Request-ID`` and stamped on every log line of the
    request. Works on both the sync and the async path without a thread hop.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        request_id, token, started = self._begin(request)
        try:
            with tracing.server_span(f"HTTP {request.method}", request.headers, **_span_attributes(request)) as span:
                response = self.get_response(request)
                _finish_span(span, request, response)
        finally:
            request_id_var.reset(token)
        return self._end(request, response, request_id, started)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        request_id, token, started = self._begin(request)
        try:
            with tracing.server_span(f"HTTP {request.method}", request.headers, **_span_attributes(request)) as span:
                response = await self.get_response(request)
                _finish_span(span, request, response)
        finally:
            request_id_var.reset(token)
        return self._end(request, response, request_id, started)

    def _begin(self, request: HttpRequest) -> tuple[str, Any, float]:
        # Bound when the request started (observability.receivers), unless called without a handler.
        request_id = request_id_var.get() or sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        # For views that want to show it (an error page, a support link).
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        return request_id, token, time.perf_counter()

    def _end(
        self, request: HttpRequest, response: HttpResponseBase, request_id: str, started: float
    ) -> HttpResponseBase:
        elapsed = time.perf_counter() - started
        response[REQUEST_ID_HEADER] = request_id
        route = _route(request)
        instruments.HTTP_REQUESTS.labels(method=_method(request), status=str(response.status_code)).inc()
        instruments.HTTP_REQUEST_DURATION_SECONDS.labels(route=route).observe(elapsed)
        # Logged with the id bound again: the access line belongs to the request it describes.
        bound = request_id_var.set(request_id)
        try:
            access_logger.info(
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        finally:
            request_id_var.reset(bound)
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(request: HttpRequest) -> str:
    return request.method if request.method in _METHODS else "other"


def _route(request: HttpRequest) -> str:
    """The matched URL pattern (bounded), never the raw path (unbounded, and may hold ids)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + str(match.route)


def _span_attributes(request: HttpRequest) -> dict[str, Any]:
    if not tracing.enabled():
        return {}  # no span to describe: the path is not even looked at
    # A secret in the path (an invitation's token, a password reset's key) is no trace's business.
    return {"http.request.method": request.method, "url.path": redact_path(request.path)}


def _finish_span(span: Any, request: HttpRequest, response: HttpResponseBase) -> None:
    if span is None:
        return
    span.set_attribute("http.response.status_code", response.status_code)
    span.set_attribute("http.route", _route(request))
    span.update_name(f"HTTP {request.method} {_route(request)}")
    if response.status_code >= 500:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR))
