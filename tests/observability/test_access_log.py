"""The project's access log (issue 14, finding 9): paths as requested, sensitive query values redacted, and the
secrets some paths carry (an invitation's token, a password reset's key).

The wire-level version (a real daphne run as production runs it) is in
tests/realtime/test_hardening_daphne.py::test_it_never_logs_a_query_token.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator

# Imported here, not in the test: building the application configures logging, which would
# detach pytest's log capture if it happened inside the test.
from devops_insights.asgi import application
from observability.access_log import AccessLogMiddleware, redact_path, redact_query


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("token=abc", "token=[redacted]"),
        ("access_token=abc&page=2", "access_token=[redacted]&page=2"),
        (
            "api_key=k&apiKey=k2&X-Amz-Signature=s&sig=1",
            "api_key=[redacted]&apiKey=[redacted]&X-Amz-Signature=[redacted]&sig=[redacted]",
        ),
        ("password=p&client_secret=s&sessionid=x", "password=[redacted]&client_secret=[redacted]&sessionid=[redacted]"),
        ("to%6Ben=abc", "to%6Ben=[redacted]"),  # an encoded name is judged decoded
        ("page=2&sort=-name&flag", "page=2&sort=-name&flag"),
        ("token", "token"),  # no value to hide
    ],
)
def test_it_redacts_the_values_of_sensitive_names(query: str, logged: str) -> None:
    assert redact_query(query) == logged


def test_it_redacts_names_the_settings_add(settings: Any) -> None:
    settings.ACCESS_LOG_REDACT_PARAMS = ["invite"]
    assert redact_query("invite=xyz&page=1") == "invite=[redacted]&page=1"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/invitations/inv-Sekrit_123/", "/invitations/[redacted]/"),
        ("/accounts/password/reset/key/3-set-Sekrit/", "/accounts/password/reset/key/3-[redacted]/"),
        ("/accounts/confirm-email/MTI:Sekrit/", "/accounts/confirm-email/[redacted]/"),
        ("/status/badges/Sekrit-badge-key/uptime-30d.svg", "/status/badges/[redacted]/uptime-30d.svg"),
        ("/sources/us-east/", "/sources/us-east/"),
        ("/teams/blue/invitations/", "/teams/blue/invitations/"),
        ("/accounts/password/reset/key/done/", "/accounts/password/reset/key/done/"),
    ],
)
def test_it_redacts_the_secrets_some_paths_carry(path: str, logged: str) -> None:
    assert redact_path(path) == logged


def test_it_redacts_a_query_value_holding_such_a_path() -> None:
    # Where the login page sends a visitor back to: an invitation link opened signed out.
    assert redact_query("next=%2Finvitations%2Finv-Sekrit_123%2F&x=1") == "next=[redacted]&x=1"
    assert redact_query("next=%2Fsources%2Fus-east%2F") == "next=%2Fsources%2Fus-east%2F"


async def request_through_the_application(path: bytes, query: bytes = b"") -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path.decode(),
        "raw_path": path,
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await app.receive_output(10)
    while (await app.receive_output(10)).get("more_body"):
        pass
    await app.wait(10)
    return int(start["status"])


@pytest.mark.django_db
async def test_it_never_logs_an_invitation_links_token(caplog: pytest.LogCaptureFixture) -> None:
    """Whoever reads the log within the link's lifetime could have joined the team with the role it offers."""
    with caplog.at_level(logging.INFO, logger="observability.access_log"):
        # Opened signed out: to the login page, which is told where to come back to.
        assert await request_through_the_application(b"/invitations/inv-Sekrit_123/") == 302
        await request_through_the_application(b"/accounts/login/", b"next=%2Finvitations%2Finv-Sekrit_123%2F")
    lines = [r.getMessage() for r in caplog.records if r.name == "observability.access_log"]
    assert len(lines) == 2
    assert '"GET /invitations/[redacted]/" 302 ' in lines[0]
    assert '"GET /accounts/login/?next=[redacted]" 200 ' in lines[1]
    assert "Sekrit" not in caplog.text


@pytest.mark.django_db
async def test_it_logs_one_line_per_request_through_the_asgi_application(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="observability.access_log"):
        # A page that ignores unknown parameters (the API answers 400 to them).
        assert await request_through_the_application(b"/accounts/login/", b"token=dit_sekrit&page=2") == 200
    lines = [r for r in caplog.records if r.name == "observability.access_log"]
    assert len(lines) == 1
    assert lines[0].getMessage().startswith('127.0.0.1 "GET /accounts/login/?token=[redacted]&page=2" 200 ')
    assert "sekrit" not in caplog.text
    assert lines[0].path == "/accounts/login/?token=[redacted]&page=2"  # type: ignore[attr-defined]


def websocket_scope(query: bytes) -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": "/ws/metrics/",
        "raw_path": b"/ws/metrics/",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50001),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
    }


async def accept_and_greet(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A WebSocket application that accepts, sends one text and runs until the client goes."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "hello"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "websocket.close", "code": 1000})


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "observability.access_log"]


async def test_it_logs_a_websocket_once_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="observability.access_log"):
        app = ApplicationCommunicator(AccessLogMiddleware(accept_and_greet), websocket_scope(b"token=dit_sekrit"))
        await app.send_input({"type": "websocket.connect"})
        assert (await app.receive_output(10))["type"] == "websocket.accept"
        assert (await app.receive_output(10))["text"] == "hello"
        assert access_lines(caplog) == []  # open: nothing logged yet
        await app.send_input({"type": "websocket.disconnect", "code": 1001})
        await app.wait(10)
    lines = access_lines(caplog)
    assert len(lines) == 1
    assert lines[0].getMessage().startswith('127.0.0.1 "WSDISCONNECT /ws/metrics/?token=[redacted]" 1001 5 ')
    assert lines[0].getMessage().endswith("ms")
    assert "sekrit" not in caplog.text


async def test_it_logs_a_refused_handshake_as_a_reject(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="observability.access_log"):
        app = ApplicationCommunicator(AccessLogMiddleware(refuse), websocket_scope(b""))
        await app.send_input({"type": "websocket.connect"})
        assert (await app.receive_output(10))["type"] == "websocket.close"
        await app.wait(10)
    assert [r.getMessage().split(" ")[1:4] for r in access_lines(caplog)] == [['"WSREJECT', '/ws/metrics/"', "403"]]
