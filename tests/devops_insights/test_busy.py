"""A view that found PostgreSQL's pool empty past its timeout (devops_insights/busy.py): a 503 with Retry-After
through the whole middleware stack, a page or the API's error shape, never a 500; other database errors are left
alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.test import Client

from devops_insights.db_errors import BUSY_RETRY_AFTER_SECONDS
from tests.devops_insights import busy_urls


@pytest.fixture
def failing_views(settings: Any) -> Iterator[list[Exception]]:
    settings.ROOT_URLCONF = "tests.devops_insights.busy_urls"
    busy_urls.RAISES.clear()
    yield busy_urls.RAISES
    busy_urls.RAISES.clear()


def test_it_answers_a_page_whose_pool_timed_out_with_a_503_not_a_500(
    failing_views: list[Exception], pool_timeout: OperationalError
) -> None:
    failing_views.append(pool_timeout)

    response = Client().get("/busy/")

    assert response.status_code == 503
    assert response["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/html")
    assert b"busy" in response.content


def test_it_answers_an_api_request_whose_pool_timed_out_in_the_api_error_shape(
    failing_views: list[Exception], pool_timeout: OperationalError
) -> None:
    failing_views.append(pool_timeout)

    response = Client().get("/api/v1/busy")

    assert response.status_code == 503
    assert response["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert json.loads(response.content)["error"]["code"] == "busy"


def test_it_leaves_other_database_errors_to_the_500_handler(failing_views: list[Exception]) -> None:
    failing_views.append(OperationalError("server closed the connection unexpectedly"))

    response = Client(raise_request_exception=False).get("/busy/")

    assert response.status_code == 500


def test_it_handles_the_exception_after_the_dropped_connection_retry_had_its_say() -> None:
    # process_exception runs innermost first: the retry must see a dropped connection before this answers.
    order = list(django_settings.MIDDLEWARE)
    assert (
        order.index("devops_insights.busy.BusyDatabaseMiddleware")
        == order.index("devops_insights.db_retry.RetryDroppedConnectionMiddleware") - 1
    )
    assert order.index("devops_insights.busy.BusyDatabaseMiddleware") > order.index("api.middleware.ApiErrorMiddleware")
