"""The retry of a safe request whose database connection dropped (devops_insights/db_retry.py), in-process:
what it repeats and what it leaves alone. The live-server drops are in test_database_reconnect.py."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.urls import ResolverMatch
from psycopg_pool import PoolTimeout

from devops_insights.db_errors import pool_timed_out
from devops_insights.db_retry import RetryDroppedConnectionMiddleware


class CountingView:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.calls += 1
        return HttpResponse("again")


def routed_get(view: CountingView) -> HttpRequest:
    request = RequestFactory().get("/api/v1/sources")
    request.resolver_match = ResolverMatch(view, (), {})
    return request


@pytest.fixture
def closed_default_connection() -> None:
    """The default connection known to this thread but not open: what a dropped one looks like to the retry."""
    connections["default"].close()


def test_it_runs_a_safe_view_once_more_when_its_connection_dropped(closed_default_connection: None) -> None:
    view = CountingView()
    middleware = RetryDroppedConnectionMiddleware(lambda request: HttpResponse())

    response = middleware.process_exception(routed_get(view), OperationalError("server closed the connection"))

    assert isinstance(response, HttpResponse)
    assert response.content == b"again"
    assert view.calls == 1


def test_it_does_not_retry_a_pool_that_lent_no_connection_in_time(
    closed_default_connection: None, pool_timeout: OperationalError
) -> None:
    view = CountingView()
    middleware = RetryDroppedConnectionMiddleware(lambda request: HttpResponse())

    assert pool_timed_out(pool_timeout)
    assert middleware.process_exception(routed_get(view), pool_timeout) is None
    assert view.calls == 0


def test_it_does_not_retry_an_unsafe_method(closed_default_connection: None) -> None:
    view = CountingView()
    request = RequestFactory().post("/api/v1/sources")
    request.resolver_match = ResolverMatch(view, (), {})
    middleware = RetryDroppedConnectionMiddleware(lambda request: HttpResponse())

    assert middleware.process_exception(request, OperationalError("server closed the connection")) is None
    assert view.calls == 0


def test_it_tells_a_pool_timeout_from_other_operational_errors() -> None:
    assert not pool_timed_out(OperationalError("server closed the connection unexpectedly"))
    assert pool_timed_out(PoolTimeout("couldn't get a connection after 0.20 sec"))
