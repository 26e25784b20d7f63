"""The access log: one line per HTTP request and per WebSocket, with sensitive query values redacted.

It replaces daphne's own access log, which printed query strings as they came: a token sent as
``?token=`` (the WebSocket fallback, or by mistake to the API) ended up in plain text wherever the
logs went. daphne is therefore run with ``--access-log /dev/null`` (runstack, Dockerfile, compose,
Kubernetes) and this ASGI middleware, outermost in ``devops_insights/asgi.py``, logs instead:

    127.0.0.1 "GET /api/v1/sources?token=[redacted]&page=2" 200 1834 12.4ms
    127.0.0.1 "WSDISCONNECT /ws/metrics/?token=[redacted]" 4401 5120 60012.0ms
    127.0.0.1 "WSREJECT /ws/metrics/" 403 0 3.2ms

A WebSocket is logged once, when it ends: its close code, the bytes sent to it and how long it was
open, handshake included (``WSREJECT`` for a handshake refused before it was accepted). A line when it
opened as well was a log record per handshake for nothing the closing line does not say; how many
sockets are open now is the ``devops_insights_websocket_connections`` gauge.

The value of a query parameter is replaced by ``[redacted]`` when a word of its name is one of
``SENSITIVE_WORDS`` (``access_token``, ``X-Amz-Signature``, ``client_secret``...) or the name is in
``ACCESS_LOG_REDACT_PARAMS``. With LOG_FORMAT=json the line's parts are fields too (client,
method, path, status, bytes, duration_ms). ``ACCESS_LOG=false`` turns it off.

Some addresses carry a secret in the path itself: an invitation link (``/invitations/<token>/``), a password
reset (``/accounts/password/reset/key/<uidb36>-<key>/``), an e-mail confirmation, a badge key. Whoever read
one in a log or a trace within its lifetime could join the team or set the account's password. The value of
a URL pattern's parameter named by the same rule is replaced too (``redact_path``), in the path and in a query
value holding such a path (the login page's ``next``); the request span's ``url.path`` is written through it.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.urls import URLResolver, get_resolver

logger = logging.getLogger(__name__)

# Scope key of a WebSocket's direct frame writer (realtime/direct.py): texts it wrote bypassed the
# ``send`` wrapped here, and its ``sent_bytes`` is added to the socket's byte count.
DIRECT_WRITER = "devops_insights.direct_writer"

REDACTED = "[redacted]"
SENSITIVE_WORDS = frozenset(
    {
        "token",
        "key",
        "apikey",
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "signature",
        "sig",
        "auth",
        "authorization",
        "session",
        "sessionid",
        "credential",
        "credentials",
        "jwt",
        "otp",
        "cookie",
    }
)
MAX_LOGGED_PATH = 1000
_WORDS = re.compile(r"[a-z0-9]+")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _named_sensitive(name: str, extra: Iterable[str]) -> bool:
    lowered = name.lower()
    if lowered in {e.lower() for e in extra}:
        return True
    return any(word in SENSITIVE_WORDS for word in _WORDS.findall(lowered))


def is_sensitive(name: str) -> bool:
    return _named_sensitive(name, settings.ACCESS_LOG_REDACT_PARAMS)


def _decoded(text: str) -> str:
    try:
        return unquote_plus(text)
    except Exception:  # undecodable: judge it raw
        return text


def redact_query(query: str) -> str:
    """The query string with the values of sensitive parameters replaced, and of parameters holding a path
    with a secret in it (``redact_path``); everything else as sent."""
    parts = []
    for item in query.split("&"):
        name, has_value, value = item.partition("=")
        hidden = has_value and (is_sensitive(_decoded(name)) or _holds_secret_path(_decoded(value)))
        parts.append(f"{name}={REDACTED}" if hidden else item)
    return "&".join(parts)


def _regexes(patterns: Iterable[Any], prefix: str) -> Iterator[str]:
    """The full regular expression of every URL pattern under ``patterns``, from the root."""
    for entry in patterns:
        part = entry.pattern.regex.pattern.removeprefix("^")
        if isinstance(entry, URLResolver):
            yield from _regexes(entry.url_patterns, prefix + part)
        else:
            yield prefix + part


@functools.lru_cache(maxsize=8)
def _secret_routes(urlconf: str, extra: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """The URL patterns with a parameter named like a secret, each with those parameters' names (read once)."""
    found: list[tuple[re.Pattern[str], tuple[str, ...]]] = []
    for text in _regexes(get_resolver(urlconf).url_patterns, "^/"):
        try:
            regex = re.compile(text)
        except re.error:  # a parameter name used at two levels: Django's resolver keeps the innermost
            continue
        names = tuple(name for name in regex.groupindex if _named_sensitive(name, extra))
        if names:
            found.append((regex, names))
    return tuple(found)


def redact_path(path: str) -> str:
    """``path`` with the value of each URL parameter named like a secret (an invitation's ``token``, a password
    reset's ``key``) replaced by ``[redacted]``; any other path as it is."""
    for regex, names in _secret_routes(settings.ROOT_URLCONF, tuple(settings.ACCESS_LOG_REDACT_PARAMS)):
        match = regex.match(path)
        if match is None:
            continue
        pieces: list[str] = []
        last = 0
        for start, end in sorted(match.span(name) for name in names if match.start(name) >= 0):
            pieces += [path[last:start], REDACTED]
            last = end
        return "".join(pieces) + path[last:]
    return path


def _holds_secret_path(value: str) -> bool:
    if not value.startswith("/"):
        return False
    path = value.split("?", 1)[0].split("#", 1)[0]
    return redact_path(path) != path


def logged_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    path = redact_path(bytes(raw).decode("latin1") if raw else str(scope.get("path", "")))
    query = bytes(scope.get("query_string") or b"").decode("latin1")
    text = f"{path}?{redact_query(query)}" if query else path
    return text if len(text) <= MAX_LOGGED_PATH else text[:MAX_LOGGED_PATH] + "…"


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


def _log(scope: Scope, method: str, status: int | str, size: int, started: float) -> None:
    path = logged_path(scope)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    client = _client(scope)
    logger.info(
        '%s "%s %s" %s %s %sms',
        client,
        method,
        path,
        status,
        size,
        elapsed,
        extra={
            "client": client,
            "method": method,
            "path": path,
            "status": status,
            "bytes": size,
            "duration_ms": elapsed,
        },
    )


class AccessLogMiddleware:
    """ASGI middleware: logs each HTTP response and each WebSocket's end (or refused handshake)."""

    def __init__(self, application: Callable[[Scope, Receive, Send], Awaitable[Any]]) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if not settings.ACCESS_LOG or scope["type"] not in ("http", "websocket"):
            return await self.application(scope, receive, send)
        if scope["type"] == "http":
            return await self._http(scope, receive, send)
        return await self._websocket(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> Any:
        started = time.perf_counter()
        state: dict[str, Any] = {"status": None, "bytes": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            return await self.application(scope, receive, sending)
        finally:
            # No response started: the server answers 500 for an application that raised.
            _log(scope, str(scope.get("method", "-")), state["status"] or 500, state["bytes"], started)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> Any:
        started = time.perf_counter()
        state: dict[str, Any] = {"accepted": False, "rejected": False, "code": None, "bytes": 0}

        async def sending(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                state["accepted"] = True
            elif kind == "websocket.close":
                if not state["accepted"] and not state["rejected"]:
                    state["rejected"] = True
                    _log(scope, "WSREJECT", 403, 0, started)
                elif state["code"] is None:
                    state["code"] = message.get("code", 1000)
            elif kind == "websocket.send":
                state["bytes"] += len(message.get("text") or message.get("bytes") or "")
            await send(message)

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and state["code"] is None:
                state["code"] = message.get("code", 1005)
            return message

        try:
            return await self.application(scope, receiving, sending)
        finally:
            if state["accepted"]:
                direct = getattr(scope.get(DIRECT_WRITER), "sent_bytes", 0)
                _log(scope, "WSDISCONNECT", state["code"] or 1006, state["bytes"] + direct, started)
