"""Request ids and poll ids: taken or generated, returned, and on every log line written meanwhile."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import AsyncClient, Client

from devops_insights.logging import JsonFormatter
from observability.context import ContextFilter, bind_poll_id, current_request_id, poll_meta
from tests import services
from tests.paths import ROOT

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the project's configured console handler writes, as JSON lines (its filters kept)."""
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, ContextFilter) for f in h.filters)
    )  # the handler settings.LOGGING built; failing here means the filter is not wired
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    old_stream, old_formatter = handler.setStream(stream), handler.formatter
    handler.setFormatter(JsonFormatter())
    try:
        yield stream
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def access_records(stream: io.StringIO) -> list[dict[str, object]]:
    return [r for r in records(stream) if r["logger"] == "observability.access"]


def test_it_echoes_a_sane_client_id_and_logs_the_request_with_it(client: Client, log_lines: io.StringIO) -> None:
    response = client.get("/api/v1/health", HTTP_X_REQUEST_ID="edge-7f3a:42")
    assert response["X-Request-ID"] == "edge-7f3a:42"
    (line,) = access_records(log_lines)
    assert line["request_id"] == "edge-7f3a:42"
    assert line["status"] == 200
    assert line["route"] == "/api/v1/health"


@pytest.mark.parametrize(
    "bad", ["has space", "x" * 129, "line\nbreak", "quote\"d", "<script>", ""], ids=repr
)  # fmt: skip
def test_it_replaces_an_unsafe_client_id(client: Client, log_lines: io.StringIO, bad: str) -> None:
    response = client.get("/api/v1/health", HTTP_X_REQUEST_ID=bad)
    assert HEX_ID.match(response["X-Request-ID"])
    assert bad not in log_lines.getvalue() or bad == ""
    assert access_records(log_lines)[0]["request_id"] == response["X-Request-ID"]


def test_it_generates_a_fresh_id_per_request_and_forgets_it_after(client: Client) -> None:
    first = client.get("/api/v1/health")["X-Request-ID"]
    second = client.get("/api/v1/health")["X-Request-ID"]
    assert HEX_ID.match(first)
    assert first != second
    assert current_request_id() is None


def test_it_returns_the_id_on_error_responses_too(client: Client, log_lines: io.StringIO) -> None:
    response = client.post("/api/v1/health", HTTP_X_REQUEST_ID="req-405")
    assert response.status_code == 405
    assert response["X-Request-ID"] == "req-405"
    # Django logs the refused method itself; that line carries the id as well.
    warnings = [r for r in records(log_lines) if r["logger"] == "django.request"]
    assert warnings
    assert all(r["request_id"] == "req-405" for r in warnings)


async def test_it_works_on_the_async_path(async_client: AsyncClient, log_lines: io.StringIO) -> None:
    response = await async_client.get("/api/v1/health", headers={"X-Request-ID": "async-1"})
    assert response["X-Request-ID"] == "async-1"
    assert access_records(log_lines)[0]["request_id"] == "async-1"


def test_it_stamps_the_poll_id_and_keeps_an_explicit_extra(log_lines: io.StringIO) -> None:
    log = logging.getLogger("pollers.engine")
    with bind_poll_id("poll-abc") as poll_id:
        assert poll_id == "poll-abc"
        assert poll_meta(attempts=2) == {"poll_id": "poll-abc", "attempts": 2}
        log.warning("fetched")
        log.warning("explicit", extra={"poll_id": "given"})  # must not raise "attempt to overwrite"
    log.warning("after")
    fetched, explicit, after = records(log_lines)
    assert fetched["poll_id"] == "poll-abc"
    assert explicit["poll_id"] == "given"
    assert "poll_id" not in after
    assert poll_meta() == {}


def test_it_generates_a_poll_id_when_none_is_given() -> None:
    with bind_poll_id() as poll_id:
        assert HEX_ID.match(poll_id)


@pytest.mark.slow
def test_it_follows_a_request_through_daphne_into_a_json_log_line(tmp_path: Path) -> None:
    """End to end: a real server, a real socket, the real JSON log output."""
    port = services.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_"))}
    env.update({"VAR_DIR": str(tmp_path), "LOG_FORMAT": "json", "LOG_LEVEL": "info"})
    log_path = tmp_path / "daphne.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "devops_insights.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        assert services.wait_for_port("127.0.0.1", port, proc=proc), log_path.read_text()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/health", headers={"X-Request-ID": "trace-me-123"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.headers["X-Request-ID"] == "trace-me-123"
        deadline = time.monotonic() + 10
        found: list[dict[str, object]] = []
        while not found and time.monotonic() < deadline:
            for line in log_path.read_text().splitlines():
                if line.startswith("{"):
                    entry = json.loads(line)
                    if entry.get("logger") == "observability.access":
                        found.append(entry)
            time.sleep(0.1)
        assert found, log_path.read_text()
        assert found[0]["request_id"] == "trace-me-123"
        assert found[0]["route"] == "/api/v1/health"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
