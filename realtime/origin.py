"""Cross-site WebSocket hijacking protection: an ``Origin`` must be this site's own, scheme and port included.

A browser sends the session cookie with a WebSocket handshake to our host whatever page opened
it, so the ``Origin`` header is the only thing telling our pages from another app's. Comparing
its host alone (Channels' ``AllowedHostsOriginValidator``) let ``http://127.0.0.1:8312`` or
``http://localhost:1``, any other app on the same host name, open a socket as the signed-in
user. Like Django's CSRF check for form posts, an ``Origin`` passes only when its scheme, host and
port are exactly:

- the handshake's own: the ``Host`` header (itself in ``ALLOWED_HOSTS``) with ``https`` when the
  socket is ``wss`` or the trusted proxy header says so (``DJANGO_BEHIND_TLS_PROXY``), else ``http``;
- or one of ``CSRF_TRUSTED_ORIGINS`` (``https://*.example.com`` matches the subdomains).

A handshake without ``Origin`` is not a browser's (browsers always send one) and goes on to
authentication: such a client could send any ``Origin`` it liked, so refusing it protects nothing.
A refused handshake gets HTTP 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

Origin = tuple[str, str, int]  # scheme, host (IPv6 without brackets), port
DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin1")
    return None


def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` as a triple, or None when it is not an http(s) origin (``null`` included)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme]


def _allowed_hosts() -> list[str]:
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # Django's own default in DEBUG
    return allowed


def _is_secure(scope: dict[str, Any]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        meta_name, expected = proxy_header
        name = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
        value = _header(scope, name)
        return value is not None and value.split(",")[0].strip() == expected
    return False


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin of the page that may open this socket: the handshake's Host with the right scheme."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    scheme = "https" if _is_secure(scope) else "http"
    try:
        number = int(port) if port else DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return scheme, domain.strip("[]").rstrip("."), number


def _trusted(origin: Origin) -> bool:
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = parse_origin(entry.replace("://*.", "://", 1))
        if trusted is None or (trusted[0], trusted[2]) != (scheme, port):
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def origin_allowed(origin_header: str, scope: dict[str, Any]) -> bool:
    origin = parse_origin(origin_header)
    if origin is None:
        return False
    return origin == own_origin(scope) or _trusted(origin)


class SameOriginValidator:
    """ASGI middleware in front of the WebSocket stack; see the module docstring."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if origin is not None and not origin_allowed(origin, scope):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
