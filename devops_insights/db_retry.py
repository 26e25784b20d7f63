"""A database connection dropped under a page (PostgreSQL restarted, a session killed) is retried once.

Django checks a kept connection before a request's first query (``CONN_HEALTH_CHECKS``), but a
connection the server drops while the request runs raises ``OperationalError`` / ``InterfaceError`` in
the view. For a safe method (GET, HEAD: the view changed nothing a retry could repeat) this middleware
closes the dead connections and calls the view once more, on fresh ones; a second failure, an error
from a live connection (a bad query, a lock timeout), a pool that lent no connection in time (retrying
would only wait its timeout again; ``devops_insights/db_errors.py``) and any other method answer as before.
Innermost in ``MIDDLEWARE``: its ``process_exception`` runs first, before the API's error middleware
turns the exception into a response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponseBase

from devops_insights.db_errors import pool_timed_out

logger = logging.getLogger("devops_insights.db_retry")

SAFE_METHODS = frozenset({"GET", "HEAD"})
_RETRIED = "_devops_insights_db_retried"


class RetryDroppedConnectionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        if request.method not in SAFE_METHODS or getattr(request, _RETRIED, False):
            return None
        if not isinstance(exception, OperationalError | InterfaceError) or request.resolver_match is None:
            return None
        if pool_timed_out(exception):
            return None  # busy, not dropped: a second try would wait the pool's timeout again
        dropped = [c for c in connections.all(initialized_only=True) if c.connection is None or not c.is_usable()]
        if not dropped or any(c.in_atomic_block for c in dropped):
            return None  # a live connection's error, or inside a transaction: not ours to repeat
        for conn in dropped:
            conn.close()
        setattr(request, _RETRIED, True)
        logger.warning(
            "%s %s: the database connection was dropped (%s); retrying once",
            request.method,
            request.path,
            type(exception).__name__,
        )
        match = request.resolver_match
        response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
        return response
