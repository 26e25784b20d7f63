"""Issue 14 through the API, over real sockets (the live server): nested bodies, readiness details, header CR/LF.

- a 60 KB body nested thousands deep answered ``500 internal_error`` (``RecursionError`` in ``json.loads``);
  now it is measured against its JSON budget first: 400 ``body_too_deep``, nothing stored;
- ``/api/v1/ready`` told anonymous callers the database vendor, cache class and poller count; now only an
  API token or the allowlisted scraper (the ``/metrics`` rule) gets the checks;
- a ``\\r\\n`` in a header value was stored and failed every poll; now a 400 naming ``headers``.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest
import requests
from django.db import connection
from django.utils import timezone

from pollers.models import PollerProcess, Source
from tests.api.support import assert_error
from tests.factories import bearer, make_source, make_token

pytestmark = pytest.mark.django_db(transaction=True)


class Wire:
    """A ``requests`` response with the ``status_code`` / ``[]`` / ``json()`` that ``assert_error`` reads."""

    def __init__(self, response: requests.Response) -> None:
        self.raw = response
        self.status_code = response.status_code
        self.content = response.content

    def __getitem__(self, name: str) -> str:
        return str(self.raw.headers[name])

    def json(self) -> Any:
        return self.raw.json()


def post(url: str, body: str | bytes, token: str) -> Wire:
    headers = {"Content-Type": "application/json", **_authorization(token)}
    return Wire(requests.post(url, data=body, headers=headers, timeout=30))


def patch(url: str, body: str, token: str) -> Wire:
    headers = {"Content-Type": "application/json", **_authorization(token)}
    return Wire(requests.patch(url, data=body, headers=headers, timeout=30))


def _authorization(token: str) -> dict[str, str]:
    return {"Authorization": bearer(token)["HTTP_AUTHORIZATION"]}


@pytest.fixture
def writer(settings: Any) -> str:
    settings.API_RATE_LIMIT_IP = "100000/m"
    settings.API_RATE_LIMIT_TOKEN = "100000/m"
    return make_token("hardening-admin", role="admin")


# --- a. a nested body -------------------------------------------------------------------------


def nested_body(size: int) -> str:
    """A source body whose ``headers`` value opens ``[`` until the body is ``size`` bytes: the probe's 60 KB."""
    opening = '{"slug": "deep", "name": "Deep", "url": "https://example.com/status", "headers": '
    depth = (size - len(opening) - 1) // 2
    return opening + "[" * depth + "]" * depth + "}"


def test_it_refuses_a_60_kb_nested_body_with_400_not_500(live_server: Any, writer: str) -> None:
    body = nested_body(60_000)
    assert 59_000 < len(body) <= 60_000  # under API_MAX_BODY_BYTES (64 KiB): only its shape is refused

    response = post(f"{live_server.url}/api/v1/sources", body, writer)

    error = assert_error(response, 400, "body_too_deep")
    assert "64 levels" in error["message"]
    assert "JSON_MAX_DEPTH" in error["message"]
    assert error["details"] == {"limit": 64}
    assert not Source.objects.filter(slug="deep").exists()


def test_it_refuses_a_body_with_too_many_items_with_400(live_server: Any, writer: str, settings: Any) -> None:
    settings.JSON_MAX_ITEMS = 1000
    body = '{"slug": "wide", "name": "Wide", "url": "https://example.com/", "tags": [' + ",".join(["1"] * 2000) + "]}"

    response = post(f"{live_server.url}/api/v1/sources", body, writer)

    error = assert_error(response, 400, "body_too_many_items")
    assert "1000 items" in error["message"]
    assert not Source.objects.filter(slug="wide").exists()


def test_it_refuses_a_nested_body_on_update_and_keeps_the_source(live_server: Any, writer: str) -> None:
    make_source("us-east", url="https://example.com/status")
    body = '{"name": ' + "[" * 5000 + "]" * 5000 + "}"

    response = patch(f"{live_server.url}/api/v1/sources/us-east", body, writer)

    assert_error(response, 400, "body_too_deep")
    assert Source.objects.get(slug="us-east").name == "Us East"


def test_it_still_answers_413_with_the_limit_for_a_large_body(live_server: Any, writer: str, settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 2048
    response = post(f"{live_server.url}/api/v1/sources", nested_body(4000), writer)
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["limit_bytes"] == 2048


# --- b. readiness details ---------------------------------------------------------------------

DETAILS = ("checks", "database", "cache", "poller", "latency_ms", "alive")


@pytest.fixture
def a_poller() -> None:
    now = timezone.now()
    PollerProcess.objects.create(process_id="hardening:1", hostname="h", pid=1, started_at=now, last_heartbeat_at=now)


def ready(url: str, **headers: str) -> requests.Response:
    return requests.get(f"{url}/api/v1/ready", headers=headers, timeout=30)


def test_it_tells_an_anonymous_caller_only_the_overall_status(live_server: Any, settings: Any, a_poller: None) -> None:
    settings.METRICS_ALLOWED_IPS = []  # the test client connects from 127.0.0.1, allowlisted by default
    settings.METRICS_TOKEN = "scrape-secret"

    anonymous = ready(live_server.url)
    forged = ready(live_server.url, Authorization="Bearer dit_not-a-real-token")

    for response in (anonymous, forged):
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}
        for word in (*DETAILS, connection.vendor, "LocMemCache", "RedisCache", "1 alive"):
            assert word not in response.text
        assert response.headers["Cache-Control"] == "no-store"


def test_it_keeps_the_status_code_for_an_anonymous_caller(live_server: Any, settings: Any) -> None:
    settings.METRICS_ALLOWED_IPS = []
    settings.API_READY_REQUIRE_POLLER = True  # and no poller heartbeat: not ready

    response = ready(live_server.url)

    assert response.status_code == 503
    assert response.json() == {"status": "not_ready"}


def test_it_gives_the_details_to_a_read_token(live_server: Any, settings: Any, a_poller: None) -> None:
    settings.METRICS_ALLOWED_IPS = []
    token = make_token("reader")

    response = ready(live_server.url, **_authorization(token))

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["detail"] == connection.vendor
    assert checks["cache"]["detail"].endswith("Cache")
    assert checks["poller"]["detail"] == "1 alive"


def test_it_gives_the_details_to_the_scraper_by_token_or_address(
    live_server: Any, settings: Any, a_poller: None
) -> None:
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "scrape-secret"
    by_token = ready(live_server.url, Authorization="Bearer scrape-secret")
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = [ip_network("127.0.0.1/32")]
    by_address = ready(live_server.url)
    through_a_proxy = ready(live_server.url, **{"X-Forwarded-For": "127.0.0.1"})

    for response in (by_token, by_address):
        assert response.json()["checks"]["database"]["detail"] == connection.vendor
        assert response.json()["checks"]["poller"]["detail"] == "1 alive"
    assert through_a_proxy.json() == {"status": "ready"}  # a proxied address is hearsay, as for /metrics


# --- c. header values with CR/LF --------------------------------------------------------------


def test_it_refuses_a_header_value_with_crlf_on_create(live_server: Any, writer: str, allow_loopback: Any) -> None:
    body = (
        '{"slug": "crlf", "name": "CRLF", "url": "http://127.0.0.1:9/status",'
        ' "headers": {"X-Trace": "a\\r\\nX-Injected: 1"}}'
    )

    response = post(f"{live_server.url}/api/v1/sources", body, writer)

    error = assert_error(response, 400, "invalid_parameters")
    assert set(error["details"]["fields"]) == {"headers"}, error
    assert "CR" in " ".join(error["details"]["fields"]["headers"]), error
    assert not Source.objects.filter(slug="crlf").exists()


def test_it_refuses_a_header_value_with_crlf_on_update_and_keeps_the_headers(
    live_server: Any, writer: str, allow_loopback: Any
) -> None:
    make_source("us-east", headers={"X-Trace": "ok"})  # on the loopback discard port

    response = patch(
        f"{live_server.url}/api/v1/sources/us-east", '{"headers": {"X-Trace": "a\\r\\nX-Injected: 1"}}', writer
    )

    error = assert_error(response, 400, "invalid_parameters")
    assert set(error["details"]["fields"]) == {"headers"}, error
    assert "CR" in " ".join(error["details"]["fields"]["headers"]), error
    assert Source.objects.get(slug="us-east").headers == {"X-Trace": "ok"}
