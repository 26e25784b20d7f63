"""The simulator's HTTP server: status documents per region, faults on demand, a loopback control API.

Routes:
  GET    /status/<region>[?stats=1][&fault=<kind>&...]  the region's document (see ``payload``, ``faults``)
  GET    /echo/headers                                    the request's headers as a JSON object
  GET    /_control/requests                               {"<region>": [unix times of requests], ...}
  POST   /_control/faults/<region>                        JSON ``Fault`` fields: set a standing fault
  DELETE /_control/faults/<region>                        clear it (``/_control/faults`` clears all)
  POST   /_control/version/<region>                       {"version": "v2.6.15"}: deploy a build (top-level ``version``)
  POST   /_control/fields/<region>                        {"fields": {...}}: top-level fields added to the region's
                                                           documents ({} removes them)
  POST   /_control/advance                                {"windows": n}: jump n time windows ahead
  POST   /_control/reset                                  clear faults, deployed versions, added fields, request log
                                                           and time offset

The control routes answer only clients on loopback, so a simulator bound to all interfaces in a
container cannot be steered from outside.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import select
import socket
import ssl
import sys
import threading
import time
from collections import defaultdict
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pollers.simulator import encodings, payload
from pollers.simulator.faults import Fault, FaultError

logger = logging.getLogger("pollers.simulator")

NON_ASCII_NOTE = "Zürich \u2013 \u2713 東京"  # in the "charset" fault's document
REGION_PATH = re.compile(r"^/status/([a-z0-9][a-z0-9-]{0,63})/?$")
VERSION_PATH = re.compile(r"^/_control/version/([a-z0-9][a-z0-9-]{0,63})/?$")
FIELDS_PATH = re.compile(r"^/_control/fields/([a-z0-9][a-z0-9-]{0,63})/?$")
FAULT_PATH = re.compile(r"^/_control/faults(?:/([a-z0-9][a-z0-9-]{0,63}))?/?$")


class SimulatorState:
    """Everything the control API changes, shared by the request threads."""

    def __init__(self, window_seconds: float = payload.DEFAULT_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self.lock = threading.Lock()
        self.offset = 0.0
        self.faults: dict[str, Fault] = {}
        # Builds "deployed" through the control API: the region's top-level ``version`` (deploy markers).
        self.versions: dict[str, str] = {}
        # Top-level fields added to a region's documents through the control API: values a generated document
        # never holds (numbers a database may store in another form, say), as an upstream may send them.
        self.fields: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, list[float]] = defaultdict(list)
        self.stopping = threading.Event()

    def now(self) -> float:
        return time.time() + self.offset

    def take_fault(self, region: str) -> Fault | None:
        """The standing fault for ``region``, counting down a ``times`` budget."""
        with self.lock:
            fault = self.faults.get(region)
            if fault is None:
                return None
            if fault.times is not None:
                if fault.times <= 1:
                    del self.faults[region]
                else:
                    self.faults[region] = replace(fault, times=fault.times - 1)
            return fault

    def log_request(self, region: str) -> None:
        with self.lock:
            self.requests[region].append(time.time())

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.versions.clear()
            self.fields.clear()
            self.requests.clear()
            self.offset = 0.0


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open hundreds of connections at once; the default backlog of 5 would refuse them.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], state: SimulatorState) -> None:
        self.state = state
        super().__init__(address, SimulatorHandler)

    def shutdown(self) -> None:
        self.state.stopping.set()  # wakes hanging and dripping responses
        super().shutdown()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer is what the faults are for, not an error of the simulator.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            logger.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pollers' connection pools are exercised
    # Headers and body go out in separate writes; with Nagle on, a kept-alive connection waits
    # for the client's delayed ACK (~40 ms) before the body.
    disable_nagle_algorithm = True
    server: SimulatorServer
    server_version = "UpstreamSimulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        # The path without its query string: test URLs carry fake tokens there.
        logger.debug("%s %s %s", self.address_string(), self.command, urlsplit(self.path).path)

    # --- routing ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        match = REGION_PATH.match(parts.path)
        if match:
            self.serve_status(match.group(1), parse_qs(parts.query))
        elif parts.path == "/echo/headers":
            # What the client sent: lets tests see which headers survive a redirect.
            self.send_json(200, {name: value for name, value in self.headers.items()})
        elif parts.path == "/_control/requests" and self.from_loopback():
            with self.server.state.lock:
                log = {region: list(times) for region, times in self.server.state.requests.items()}
            self.send_json(200, log)
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self) -> None:
        if not self.from_loopback():
            self.send_json(403, {"error": "the control API answers loopback clients only"})
            return
        path = urlsplit(self.path).path
        state = self.server.state
        body = self.read_json_body()
        if body is None:
            return
        fault_match = FAULT_PATH.match(path)
        if fault_match and fault_match.group(1):
            try:
                fault = Fault.parse(body)
            except FaultError as exc:
                self.send_json(400, {"error": str(exc)})
                return
            with state.lock:
                state.faults[fault_match.group(1)] = fault
            self.send_json(200, {"region": fault_match.group(1), "fault": asdict(fault)})
        elif version_match := VERSION_PATH.match(path):
            version = body.get("version")
            if not isinstance(version, str) or not 0 < len(version) <= 64:
                self.send_json(400, {"error": "version must be a string of 1 to 64 characters"})
                return
            with state.lock:
                state.versions[version_match.group(1)] = version
            self.send_json(200, {"region": version_match.group(1), "version": version})
        elif fields_match := FIELDS_PATH.match(path):
            fields = body.get("fields")
            if not isinstance(fields, dict):
                self.send_json(400, {"error": "fields must be a JSON object"})
                return
            with state.lock:
                state.fields[fields_match.group(1)] = fields
            self.send_json(200, {"region": fields_match.group(1), "fields": fields})
        elif path == "/_control/advance":
            try:
                windows = float(body.get("windows", 1))
            except (TypeError, ValueError):
                self.send_json(400, {"error": "windows must be a number"})
                return
            with state.lock:
                state.offset += windows * state.window_seconds
            self.send_json(200, {"offset": state.offset})
        elif path == "/_control/reset":
            state.reset()
            self.send_json(200, {"reset": True})
        else:
            self.send_json(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        if not self.from_loopback():
            self.send_json(403, {"error": "the control API answers loopback clients only"})
            return
        match = FAULT_PATH.match(urlsplit(self.path).path)
        if not match:
            self.send_json(404, {"error": "not found"})
            return
        with self.server.state.lock:
            if match.group(1):
                self.server.state.faults.pop(match.group(1), None)
            else:
                self.server.state.faults.clear()
        self.send_json(200, {"cleared": match.group(1) or "all"})

    # --- the status endpoint --------------------------------------------------------------------
    def serve_status(self, region: str, query: dict[str, list[str]]) -> None:
        state = self.server.state
        state.log_request(region)
        flat = {key: values[-1] for key, values in query.items()}
        fault: Fault | None
        if "fault" in flat:
            try:
                fault = Fault.parse(flat)
            except FaultError as exc:
                self.send_json(400, {"error": str(exc)})
                return
        else:
            fault = state.take_fault(region)

        delay = fault.delay if fault is not None and fault.kind != "hang" else 0.0
        if delay > 0 and state.stopping.wait(delay):
            return
        kind = fault.kind if fault else ""
        if fault is not None and kind == "auth" and not self.authorized(fault):
            realm = "Bearer" if fault.token else 'Basic realm="simulator"'
            self.send_json(401, {"error": "credentials required"}, headers={"WWW-Authenticate": realm})
            return
        degraded = True if kind == "degraded" else False if kind == "healthy" else None
        document = payload.generate(
            region,
            state.now(),
            window_seconds=state.window_seconds,
            stats=flat.get("stats") == "1",
            degraded=degraded,
            service=fault.service if fault is not None else payload.FORCED_SERVICE,
        )
        with state.lock:
            deployed = state.versions.get(region)
            added = state.fields.get(region, {})
        if deployed is not None:
            document["version"] = deployed
        document.update(added)
        body = json.dumps(document).encode()

        if fault is None or kind in ("latency", "degraded", "healthy", "auth"):
            self.send_body(200, body)
        elif kind == "encoding":
            coding = fault.coding or "gzip"
            self.send_body(200, encodings.encode(body, coding), headers=self.coding_header(coding))
        elif kind == "bad_encoding":
            self.send_body(200, body, headers=self.coding_header(fault.coding or "gzip"))
        elif kind == "bomb":
            coding = fault.coding or "gzip"
            self.send_bomb(encodings.bomb(coding, fault.size), self.coding_header(coding), fault.declare)
        elif kind == "deep":
            self.send_body(200, b'{"deep": ' + b"[" * fault.depth + b"]" * fault.depth + b"}")
        elif kind == "charset":
            # Text outside ASCII, so a wrong decoding shows; "utf-16" and "utf-32" carry their own mark.
            text = json.dumps({**document, "note": NON_ASCII_NOTE}, ensure_ascii=False)
            # What a charset cannot carry goes as a JSON escape (\u2013), as a careful server would.
            encoded = text.encode(fault.charset, errors="backslashreplace")
            if fault.bom and fault.charset not in ("utf-16", "utf-32", "utf-8-sig"):
                encoded = self.bom(fault.charset) + encoded
            named = fault.label or fault.charset
            content_type = f"application/json; charset={named}" if fault.declare else "application/json"
            self.send_body(200, encoded, content_type=content_type)
        elif kind == "etag":
            self.send_conditional(body, state.now())
        elif kind == "hang":
            self.hang(fault.delay)
        elif kind == "error":
            self.send_json(fault.status, {"error": f"simulated {fault.status}"})
        elif kind == "rate_limit":
            self.send_json(429, {"error": "slow down"}, headers={"Retry-After": fault.retry_after})
        elif kind == "not_json":
            self.send_body(200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        elif kind == "not_object":
            self.send_body(200, json.dumps([document]).encode())
        elif kind == "truncated":
            self.send_truncated(body)
        elif kind == "oversized":
            self.send_oversized(fault.size, fault.declare)
        elif kind == "drip":
            coding = fault.coding or "identity"
            self.drip(encodings.encode(body, coding), fault.interval, self.coding_header(coding))
        elif kind == "redirect":
            self.send_response(fault.status)
            self.send_header("Location", fault.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def hang(self, limit: float) -> None:
        """Say nothing until the client hangs up, the limit passes or the server stops."""
        self.close_connection = True
        deadline = time.monotonic() + limit
        sock = self.connection
        while not self.server.state.stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return  # the client closed its end: stop holding a thread for it
                except (OSError, ValueError):  # ValueError: TLS sockets take no recv flags
                    return

    def send_truncated(self, body: bytes) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()

    def send_oversized(self, size: int, declare: bool) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if declare:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        head, tail = b'{"padding": "', b'"}'
        remaining = max(0, size - len(head) - len(tail))
        chunk = b"x" * 65536
        try:
            self.wfile.write(head)
            while remaining > 0 and not self.server.state.stopping.is_set():
                piece = chunk[: min(remaining, len(chunk))]
                self.wfile.write(piece)
                remaining -= len(piece)
            self.wfile.write(tail)
        except OSError:
            return  # the client stopped reading at its limit, as it should

    def send_bomb(self, body: bytes, headers: dict[str, str], declare: bool) -> None:
        """Like send_body; ``declare=False`` leaves out Content-Length (the body ends when the connection does)."""
        if declare:
            self.send_body(200, body, headers=headers)
            return
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            return  # the client stopped reading at its limit, as it should

    def drip(self, body: bytes, interval: float, headers: dict[str, str] | None = None) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for index in range(len(body)):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                if self.server.state.stopping.wait(interval):
                    return
        except OSError:
            return

    def authorized(self, fault: Fault) -> bool:
        given = self.headers.get("Authorization", "")
        if fault.token:
            expected = f"Bearer {fault.token}"
        else:
            expected = "Basic " + base64.b64encode(f"{fault.username}:{fault.password}".encode()).decode()
        return hmac.compare_digest(given.encode(), expected.encode())

    @staticmethod
    def coding_header(coding: str) -> dict[str, str]:
        return {"Content-Encoding": encodings.header_value(coding)} if coding != "identity" else {}

    @staticmethod
    def bom(charset: str) -> bytes:
        import codecs

        marks = {
            "utf-8": codecs.BOM_UTF8,
            "utf8": codecs.BOM_UTF8,
            "utf-16-le": codecs.BOM_UTF16_LE,
            "utf-16-be": codecs.BOM_UTF16_BE,
            "utf-32-le": codecs.BOM_UTF32_LE,
            "utf-32-be": codecs.BOM_UTF32_BE,
        }
        return marks.get(charset, b"")

    def send_conditional(self, body: bytes, now: float) -> None:
        """Validators as a stock web server sends them; 304 when the client's match (RFC 9110 13.1)."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        window_start = payload.window_index(now, self.server.state.window_seconds) * self.server.state.window_seconds
        last_modified = email.utils.formatdate(window_start, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": last_modified, "Cache-Control": "no-cache"}
        if_none_match = self.headers.get("If-None-Match")
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            fresh = "*" in tags or etag in tags
        elif if_modified_since is not None:
            try:
                since = email.utils.parsedate_to_datetime(if_modified_since).timestamp()
            except (TypeError, ValueError):
                since = None
            fresh = since is not None and int(window_start) <= since
        else:
            fresh = False
        if fresh:
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self.send_body(200, body, headers=validators)

    # --- helpers ----------------------------------------------------------------------------------
    def from_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            return False

    def read_json_body(self) -> dict[str, Any] | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 65536:
            self.send_json(400, {"error": "bad Content-Length"})
            return None
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self.send_json(400, {"error": "the body is not JSON"})
            return None
        if not isinstance(body, dict):
            self.send_json(400, {"error": "the body must be a JSON object"})
            return None
        return body

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(data).encode(), headers=headers)

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class RunningSimulator:
    """A simulator serving from a background thread: for tests, benchmarks and ``simulate_upstream``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        window_seconds: float = payload.DEFAULT_WINDOW_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.state = SimulatorState(window_seconds)
        self.server = SimulatorServer((host, port), self.state)
        self.scheme = "http"
        if ssl_context is not None:
            # HTTPS for TLS tests: the handshake happens in each request thread, on first read.
            self.server.socket = ssl_context.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"
        self.host = host
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="simulator", daemon=True)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, region: str, query: str = "stats=1") -> str:
        return f"{self.base_url}/status/{region}" + (f"?{query}" if query else "")

    def start(self) -> RunningSimulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # In-process shortcuts to the control API (tests in the same process use these).
    def set_fault(self, region: str, **params: Any) -> Fault:
        fault = Fault.parse(params)
        with self.state.lock:
            self.state.faults[region] = fault
        return fault

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def deploy(self, region: str, version: str) -> None:
        with self.state.lock:
            self.state.versions[region] = version

    def set_fields(self, region: str, fields: dict[str, Any]) -> None:
        """Add ``fields`` to the region's documents from now on (replacing those added before)."""
        with self.state.lock:
            self.state.fields[region] = dict(fields)

    def advance(self, windows: float = 1) -> None:
        with self.state.lock:
            self.state.offset += windows * self.state.window_seconds

    def requests_for(self, region: str) -> list[float]:
        with self.state.lock:
            return list(self.state.requests.get(region, []))

    def reset(self) -> None:
        self.state.reset()
