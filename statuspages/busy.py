"""Public status answers under a busy database: a short 503 instead of a 500, and pooled connections given
back as soon as the answer is made.

A warm public answer opens no database connection (statuspages/answers.py). A cold one does (a page's
content expired or its generation moved), and with PostgreSQL's bounded pool (``DATABASE_POOL_MAX_SIZE``)
it may have to wait for a free connection; after ``DATABASE_POOL_TIMEOUT`` psycopg gives up with
``PoolTimeout``, which Django raises as ``OperationalError``. ``degrade_when_busy`` answers that with 503
and ``Retry-After: RETRY_AFTER_SECONDS``, never cached, so widgets and browsers come back shortly.

Django gives a pooled connection back only when the response has been sent (``request_finished``): under
ASGI the slow readers of a half-megabyte page would hold the pool while they read. Each public view
therefore gives its request's pooled connections back once its answer is made (outside a transaction
only; a connection that is not pooled is left to Django's ``CONN_MAX_AGE``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from devops_insights.db_errors import BUSY_RETRY_AFTER_SECONDS as RETRY_AFTER_SECONDS
from devops_insights.db_errors import pool_timed_out

View = Callable[..., HttpResponse]


def release_pooled_connections() -> None:
    """Give this request's pooled connections back now rather than after its response is sent."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.in_atomic_block and getattr(conn, "pool", None) is not None:
            conn.close()


def degrade_when_busy(busy: Callable[[str], HttpResponse]) -> Callable[[View], View]:
    """Decorate a public view: ``busy(message)`` (then made a 503 with Retry-After, not cached) when no
    pooled connection came in time; pooled connections given back when the view returns."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except OperationalError as error:
                if not pool_timed_out(error):
                    raise
                response = busy(f"The status page is busy; retry in {RETRY_AFTER_SECONDS} s.")
                response.status_code = 503
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                patch_cache_control(response, private=True, no_store=True)
                return response
            finally:
                release_pooled_connections()

        return wrapper

    return decorate
