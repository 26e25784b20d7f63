"""A real HTTP receiver on a free loopback port that records webhooks and checks their signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.services import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None  # None when the receiver has no secret to check with
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """Answers ``statuses`` in turn (then ``status``), after ``delay`` seconds; 401 on a bad signature.

    The first answers also wait in turn for ``holds`` to be set (at most 30 s), to keep a sender inside
    its send while a test does something else.
    """

    def __init__(
        self,
        secret: str = "",
        status: int = 200,
        statuses: list[int] | None = None,
        delay: float = 0.0,
        holds: list[threading.Event] | None = None,
    ):
        self.secret = secret
        self.status = status
        self.statuses = list(statuses or [])
        self.delay = delay
        self.holds = list(holds or [])
        self.received: list[Received] = []
        self.port = free_port()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                signature_ok = None
                if receiver.secret:
                    expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                    signature_ok = hmac.compare_digest(expected, self.headers.get("X-Insights-Signature", ""))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body, signature_ok))
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                    hold = receiver.holds.pop(0) if receiver.holds else None
                if hold is not None:
                    hold.wait(30)
                if receiver.delay:
                    time.sleep(receiver.delay)
                if signature_ok is False:
                    status = 401
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
