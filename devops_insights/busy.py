"""What a web process answers when it is too busy to serve a request now: 503 with ``Retry-After``, never
cached, in the API's error shape under ``/api/`` and as a short page elsewhere.

A process is busy in two ways, and both answer the same:

- its admission queue (devops_insights/admission.py) held the request longer than ``WEB_QUEUE_TIMEOUT``
  without a free slot to run it;
- PostgreSQL's bounded pool lent no connection within ``DATABASE_POOL_TIMEOUT`` (psycopg's ``PoolTimeout``,
  raised by Django as ``OperationalError``; devops_insights/db_errors.py). ``BusyDatabaseMiddleware``
  answers that for every view, authenticated pages and the API alike, where it used to be a 500 with a
  traceback. Public status pages have their own busy page (statuspages/busy.py) with the same delay.

Busy is not broken: nothing failed that retrying shortly will not fix, so the answer says when to come back,
and the log gets one line, not a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control

from api.errors import error_response
from devops_insights.db_errors import BUSY_RETRY_AFTER_SECONDS as RETRY_AFTER_SECONDS
from devops_insights.db_errors import pool_timed_out

log = logging.getLogger("devops_insights.busy")

PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Busy</title>"
    "<h1>DevOps Insights is busy</h1><p>{message}</p></html>"
)


def busy_response(path: str, reason: str) -> HttpResponse:
    """The 503 for a request to ``path``; ``reason`` says what was busy (the queue, the database)."""
    message = f"{reason}; retry in {RETRY_AFTER_SECONDS} s."
    response: HttpResponse
    if path.startswith("/api/"):
        response = error_response(503, "busy", message)
    else:
        response = HttpResponse(PAGE.format(message=message), status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    patch_cache_control(response, private=True, no_store=True)
    return response


class BusyDatabaseMiddleware:
    """A view that found the database pool empty past its timeout answers 503 with Retry-After, not 500.

    Listed just outside ``RetryDroppedConnectionMiddleware`` (which leaves pool timeouts alone: retrying
    would wait the timeout again), so its ``process_exception`` runs before the API's error middleware
    would make the exception a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        if not isinstance(exception, OperationalError) or not pool_timed_out(exception):
            return None
        log.warning("%s %s: no pooled database connection in time; answered 503", request.method, request.path)
        return busy_response(request.path, "The database is busy")
