"""Fetching over real HTTP from the simulator: timeouts, retries, limits and malformed bodies."""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from pollers.decoding import ACCEPT_ENCODING
from pollers.fetch import USER_AGENT, Fetcher, FetchPolicy, RetryAfter, parse_retry_after
from tests.services import free_port
from tests.simulator import RunningSimulator


def policy(**overrides: Any) -> FetchPolicy:
    values: dict[str, Any] = {
        "allowed_private_hosts": ("127.0.0.1",),
        "retries": 2,
        "backoff_base": 0.05,
        "backoff_max": 2.0,
        "connect_timeout": 1.0,
        "read_timeout": 5.0,
        "max_body_bytes": 256 * 1024,
    }
    values.update(overrides)
    return FetchPolicy(**values)


@pytest.fixture
def fetcher() -> Any:
    fetcher = Fetcher(policy())
    yield fetcher
    fetcher.close()


def test_it_fetches_a_json_object(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    result = fetcher.fetch(simulator.url("us-east"), timeout=3)
    assert result.ok
    assert (result.status_code, result.attempts, result.error_kind) == (200, 1, "")
    assert result.payload is not None
    assert result.payload["results"]["stats"]["servers_count"] > 0
    assert result.latency_ms is not None
    assert 0 < result.latency_ms < 3000


def test_it_pools_connections_in_one_session_per_thread(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    for _ in range(3):
        assert fetcher.fetch(simulator.url("us-east"), timeout=3).ok
    session = fetcher.session()
    assert fetcher.session() is session
    pools = list(session.get_adapter("http://").poolmanager.pools._container.values())  # type: ignore[attr-defined]
    assert [pool.num_connections for pool in pools] == [1]  # three requests, one connection

    other: list[Any] = []
    thread = threading.Thread(target=lambda: other.append(fetcher.session()))
    thread.start()
    thread.join()
    assert other[0] is not session


def test_it_times_out_a_hanging_upstream_and_retries(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    started = time.monotonic()
    result = fetcher.fetch(simulator.url("us-east", "stats=1&fault=hang"), timeout=0.5)
    elapsed = time.monotonic() - started
    assert (result.ok, result.error_kind, result.attempts) == (False, "timeout", 3)
    assert len(simulator.requests_for("us-east")) == 3
    assert 1.5 <= elapsed < 4.0  # three half-second timeouts plus short backoffs


def test_it_retries_5xx_with_backoff_and_then_succeeds(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    simulator.set_fault("eu-west", kind="error", status=503, times=2)
    result = fetcher.fetch(simulator.url("eu-west"), timeout=3)
    assert result.ok
    assert result.attempts == 3
    assert len(simulator.requests_for("eu-west")) == 3


def test_it_gives_up_on_5xx_after_the_retries(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    simulator.set_fault("eu-west", kind="error", status=502)
    result = fetcher.fetch(simulator.url("eu-west"), timeout=3)
    assert (result.ok, result.error_kind, result.status_code, result.attempts) == (False, "http_502", 502, 3)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_it_does_not_retry_other_4xx(simulator: RunningSimulator, fetcher: Fetcher, status: int) -> None:
    simulator.set_fault("eu-west", kind="error", status=status)
    result = fetcher.fetch(simulator.url("eu-west"), timeout=3)
    assert (result.ok, result.error_kind, result.attempts) == (False, f"http_{status}", 1)
    assert len(simulator.requests_for("eu-west")) == 1


def test_it_honours_retry_after_on_429(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    simulator.set_fault("sa-east", kind="rate_limit", retry_after="1", times=1)
    started = time.monotonic()
    result = fetcher.fetch(simulator.url("sa-east"), timeout=3)
    assert result.ok
    assert result.attempts == 2
    times = simulator.requests_for("sa-east")
    assert times[1] - times[0] >= 0.95
    assert time.monotonic() - started >= 0.95


def test_it_does_not_wait_longer_than_its_cap_for_retry_after(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    simulator.set_fault("sa-east", kind="rate_limit", retry_after="30")  # over backoff_max, under the bound
    started = time.monotonic()
    result = fetcher.fetch(simulator.url("sa-east"), timeout=3)
    assert (result.ok, result.error_kind, result.attempts, result.retry_after) == (False, "http_429", 1, 30.0)
    assert time.monotonic() - started < 1


def test_it_honours_a_days_retry_after_only_up_to_its_bound_and_says_so_once(
    simulator: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.set_fault("sa-east", kind="rate_limit", retry_after="86400")
    # A bound under backoff_max: the capped wait is waited inside the poll, so all three attempts are capped.
    fetcher = Fetcher(policy(retry_after_max=0.2))
    try:
        with caplog.at_level(logging.INFO, logger="pollers.fetch"):
            result = fetcher.fetch(simulator.url("sa-east", "stats=1&token=s3cret"), timeout=3, poll_id="p1")
    finally:
        fetcher.close()
    assert (result.ok, result.error_kind, result.attempts, result.retry_after) == (False, "http_429", 3, 0.2)
    capped = [r.getMessage() for r in caplog.records if "Retry-After" in r.getMessage()]
    assert len(capped) == 1, capped  # one line per poll, not per attempt
    assert "p1" in capped[0]
    assert "127.0.0.1 answered HTTP 429" in capped[0]
    assert "s3cret" not in capped[0]
    assert "stats=" not in capped[0]


def test_it_takes_the_bound_on_retry_after_from_its_setting(settings: Any) -> None:
    assert FetchPolicy.from_settings().retry_after_max == 3600.0
    settings.POLLER_RETRY_AFTER_MAX = 300.0
    assert FetchPolicy.from_settings().retry_after_max == 300.0


def test_it_retries_a_refused_connection(fetcher: Fetcher) -> None:
    result = fetcher.fetch(f"http://127.0.0.1:{free_port()}/status/us-east", timeout=1)
    assert (result.ok, result.error_kind, result.attempts) == (False, "connect", 3)


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("fault=not_json", "not_json"),
        ("fault=not_object", "not_object"),
        ("stats=1&fault=truncated", "truncated"),
        ("fault=oversized&size=600000", "too_large"),
        ("fault=oversized&size=600000&declare=0", "too_large"),
    ],
)
def test_it_reports_a_bad_body_as_a_failure(
    simulator: RunningSimulator, fetcher: Fetcher, query: str, kind: str
) -> None:
    result = fetcher.fetch(simulator.url("ap-southeast", query), timeout=3)
    assert (result.ok, result.error_kind, result.payload) == (False, kind, None)
    assert result.error_message
    assert result.attempts == 1  # a bad body will not get better by asking again


def test_it_stops_reading_a_slow_drip_at_the_deadline(simulator: RunningSimulator) -> None:
    fetcher = Fetcher(policy(retries=0))
    started = time.monotonic()
    result = fetcher.fetch(simulator.url("us-east", "stats=1&fault=drip&interval=0.05"), timeout=1.0)
    elapsed = time.monotonic() - started
    assert (result.ok, result.error_kind) == (False, "slow_body")
    assert elapsed < 1.6  # each byte arrives well inside the read timeout; only the deadline ends it


def test_it_stops_backing_off_when_the_poller_stops(simulator: RunningSimulator) -> None:
    stop = threading.Event()
    fetcher = Fetcher(policy(retries=5, backoff_base=5.0, backoff_max=5.0), stop=stop)
    simulator.set_fault("us-east", kind="error", status=503)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    result = fetcher.fetch(simulator.url("us-east"), timeout=2)
    assert not result.ok
    assert time.monotonic() - started < 2


def test_it_never_puts_header_values_in_errors_or_logs(
    simulator: RunningSimulator, fetcher: Fetcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    simulator.set_fault("us-east", kind="error", status=503)
    result = fetcher.fetch(
        simulator.url("us-east", "stats=1&token=query-secret"),
        headers={"Authorization": "Bearer header-secret", "X-Api-Key": "key-secret"},
        timeout=2,
    )
    assert not result.ok
    for secret in ("header-secret", "key-secret", "query-secret"):
        assert secret not in result.error_message
        assert secret not in caplog.text


def test_it_backs_off_exponentially_with_full_jitter() -> None:
    p = FetchPolicy(backoff_base=0.5, backoff_max=3.0)
    rng = random.Random(7)
    samples = {attempt: [p.backoff(attempt, rng) for _ in range(500)] for attempt in (1, 2, 3, 4)}
    assert max(samples[1]) <= 0.5
    assert max(samples[2]) <= 1.0
    assert max(samples[3]) <= 2.0
    assert max(samples[4]) <= 3.0  # capped
    assert min(samples[4]) < 0.3  # full jitter reaches down to zero
    assert max(samples[3]) > 1.8  # and up to the ceiling


def test_it_reads_retry_after_as_seconds_or_a_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("7", longest=60) == RetryAfter(7.0, capped=False)
    in_30s = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(in_30s, now, longest=60) == RetryAfter(30.0, capped=False)
    assert parse_retry_after("60", longest=60) == RetryAfter(60.0, capped=False)  # the bound itself is honoured
    assert parse_retry_after("soon", longest=60) is None
    assert parse_retry_after(None, longest=60) is None


@pytest.mark.parametrize(
    "value",
    [
        "9" * 400,  # inf as a float
        "9" * 5000,  # past int()'s 4,300 digits
        "0" * 5000 + "86400",
        "86400",
        "61",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 2026 00:01:01 GMT",
    ],
)
def test_it_honours_a_retry_after_only_up_to_its_bound(value: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    wait = parse_retry_after(value, now, longest=60)
    assert wait == RetryAfter(60.0, capped=True)
    assert isinstance(wait.seconds, float)
    assert math.isfinite(wait.seconds)
    assert now + timedelta(seconds=wait.seconds) == now + timedelta(minutes=1)  # no OverflowError


@pytest.mark.parametrize("value", ["-5", "-86400", "1e9", "inf", "NaN", "5.5", "0x10", "²", "٣", "soon", "Mon, 99"])
def test_it_ignores_a_retry_after_that_is_not_a_number_of_seconds_or_a_date(value: str) -> None:
    assert parse_retry_after(value, longest=60) is None


def test_it_reads_a_retry_after_date_in_the_past_as_no_wait() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now, longest=60) == RetryAfter(0.0, capped=False)


def test_it_drops_credentials_when_a_redirect_leaves_the_host(simulator: RunningSimulator) -> None:
    # 127.0.0.1 and localhost are different hosts to HTTP, both on loopback here.
    fetcher = Fetcher(policy(allowed_private_hosts=("127.0.0.1", "localhost")))
    headers = {"Authorization": "Bearer secret", "X-Api-Key": "k", "X-Trace": "t1"}
    same_host = f"{simulator.base_url}/echo/headers"
    result = fetcher.fetch(simulator.url("us-east", f"fault=redirect&location={same_host}"), headers=headers)
    assert result.payload is not None
    assert (result.payload.get("Authorization"), result.payload.get("X-Trace")) == ("Bearer secret", "t1")

    other_host = f"http://localhost:{simulator.port}/echo/headers"
    result = fetcher.fetch(simulator.url("us-east", f"fault=redirect&location={other_host}"), headers=headers)
    assert result.ok, result.error_message
    assert result.payload is not None
    assert "Authorization" not in result.payload
    assert "X-Api-Key" not in result.payload
    assert result.payload["X-Trace"] == "t1"
    assert result.payload["Host"] == f"localhost:{simulator.port}"


def test_it_sends_its_own_headers_and_no_cookie(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    # The request is prepared without Session.request's merging (pollers.fetch.prepared_get): still
    # the headers a session sent, the source's own on top, and never a cookie from the session's jar.
    fetcher.session().cookies.set("sticky", "lb-7")
    result = fetcher.fetch(f"{simulator.base_url}/echo/headers", headers={"X-Team": "blue"}, timeout=3)
    assert result.payload is not None
    sent = {name.lower(): value for name, value in result.payload.items()}
    assert sent["user-agent"] == USER_AGENT
    assert (sent["accept"], sent["accept-encoding"]) == ("application/json", ACCEPT_ENCODING)
    assert (sent["connection"], sent["x-team"], sent["host"]) == ("keep-alive", "blue", f"127.0.0.1:{simulator.port}")
    assert "cookie" not in sent


def test_it_times_out_a_body_that_stops_arriving(simulator: RunningSimulator) -> None:
    # Bytes every 0.4 s against a 0.2 s read timeout: the read timeout, not the deadline, ends it.
    fetcher = Fetcher(policy(retries=0, read_timeout=0.2))
    started = time.monotonic()
    result = fetcher.fetch(simulator.url("us-east", "fault=drip&interval=0.4"), timeout=5)
    assert (result.ok, result.error_kind, result.status_code) == (False, "timeout", 200)
    assert time.monotonic() - started < 1.5
