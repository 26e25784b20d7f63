"""Serving the metrics: who may scrape, what each process exposes, and the poller's own server.

Web and poller are separate processes (and separate containers or pods), so one process cannot
report another's counters. prometheus_client's multiprocess mode only shares files between
processes of one host, which is not how this service is deployed, so each process serves its own:

- every web process: ``GET /metrics`` = its own instruments (HTTP, WebSocket, cache reads) plus the
  shared state read at scrape time (every source's latest upstream metrics from the store, source
  health and the notification queue from the database), which is why any web replica answers the
  same for those. The apps that own that state register its collectors here
  (``register_shared_state``, from their AppConfig.ready): observability imports no other app;
- every poller process: its instruments (polls, leases, store writes, rollups, pruning) on
  ``POLLER_METRICS_ADDR:POLLER_METRICS_PORT`` when the port is set.

Prometheus scrapes each pod or container (Kubernetes pod discovery, or one target per replica).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from ipaddress import ip_address
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


def scrape_allowed(authorization: str | None, remote_addr: str | None, proxied: bool) -> bool:
    """The bearer token matches, or the peer is on the allowlist and spoke to us directly.

    Behind a proxy the peer address is whatever ``X-Forwarded-For`` said, which a client can
    forge, so a proxied scrape must present the token.
    """
    token = settings.METRICS_TOKEN
    if token and authorization:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return True
    if proxied or not remote_addr:
        return False
    try:
        address = ip_address(remote_addr.split("%", 1)[0])
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


# Any of these means a proxy stood between the client and us, so REMOTE_ADDR is hearsay.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def request_may_scrape(meta: Mapping[str, Any]) -> bool:
    """``scrape_allowed`` for a WSGI/Django request's META: METRICS_TOKEN, or a direct allowlisted peer."""
    proxied = any(header in meta for header in PROXY_HEADERS)
    return scrape_allowed(meta.get("HTTP_AUTHORIZATION"), meta.get("REMOTE_ADDR"), proxied)


# What GET /metrics serves: this process's instruments plus the shared state every web replica
# reports alike. A registry is itself a collector (it has collect()), so the process's nests inside.
WEB_REGISTRY = CollectorRegistry(auto_describe=False)
WEB_REGISTRY.register(REGISTRY)

_registered: set[tuple[str, str]] = set()
_registered_lock = threading.Lock()


def _register_once(registry: CollectorRegistry, name: str, collector: Collector) -> bool:
    # Collectors describe nothing (so registering never reads a database), which also means the
    # registry cannot spot a second registration of the same collector: this does, by class.
    key = (name, f"{type(collector).__module__}.{type(collector).__qualname__}")
    with _registered_lock:
        if key in _registered:
            return False
        registry.register(collector)
        _registered.add(key)
        return True


def register_shared_state(collector: Collector) -> bool:
    """Serve ``collector`` on ``GET /metrics`` only: state every web replica reads alike at scrape time.

    For the apps that own the state (from their AppConfig.ready); never on the poller's server,
    which would duplicate it. Once per collector class; True when this call registered it.
    """
    return _register_once(WEB_REGISTRY, "web", collector)


def register_process_collector(collector: Collector) -> bool:
    """Serve ``collector`` with this process's own instruments (the web's /metrics and the poller's server)."""
    return _register_once(REGISTRY, "process", collector)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the logs; failures show in Prometheus itself."""


def guarded(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware applying ``scrape_allowed`` (the poller server sits behind no proxy)."""

    def guarded_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not scrape_allowed(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"), proxied=False):
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            if settings.METRICS_TOKEN:
                headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
            start_response("401 Unauthorized" if settings.METRICS_TOKEN else "403 Forbidden", headers)
            return [b"metrics: token required or address not allowed\n"]
        return app(environ, start_response)

    return guarded_app


_server_lock = threading.Lock()
_server: WSGIServer | None = None
_server_failed = False  # tried once and could not listen: do not retry (and log) on every poll


def start_poller_metrics_server(port: int | None = None, addr: str | None = None) -> WSGIServer | None:
    """Serve this process's instruments on ``POLLER_METRICS_ADDR:POLLER_METRICS_PORT`` once (0: off).

    Idempotent and cheap after the first call. A port already taken is logged, not raised: metrics
    must never stop the poller.
    """
    global _server, _server_failed
    if _server is not None or _server_failed:
        return _server
    port = settings.POLLER_METRICS_PORT if port is None else port
    if not port:
        return None
    addr = settings.POLLER_METRICS_ADDR if addr is None else addr
    with _server_lock:
        if _server is not None:
            return _server
        try:
            server = make_server(
                addr, port, guarded(make_wsgi_app(REGISTRY)), _ThreadingWSGIServer, handler_class=_QuietHandler
            )
        except OSError as exc:
            logger.error("poller metrics server cannot listen on %s:%s: %s", addr, port, exc.strerror)
            _server_failed = True
            return None
        thread = threading.Thread(target=server.serve_forever, name="poller-metrics", daemon=True)
        thread.start()
        _server = server
        logger.info("poller metrics served on %s:%s", addr, server.server_port)
        return server


def stop_poller_metrics_server() -> None:
    global _server, _server_failed
    with _server_lock:
        _server_failed = False
        if _server is not None:
            _server.shutdown()
            _server.server_close()
            _server = None
