"""A traced poll, end to end: ``manage.py poll`` on PostgreSQL and Redis with OTEL_EXPORTER_OTLP_ENDPOINT set
exports to a loopback OTLP/HTTP receiver a poll span with HTTP, SQL and Redis child spans; the upstream gets
the poll's ``traceparent`` (unless POLLER_PROPAGATE_TRACE=false); no query string reaches a span."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from environ import Env

from tests.paths import ROOT
from tests.services import COMMAND_TIMEOUT

QUERY_SECRET = "QS-SECRET-7d1c"


class Loopback:
    """A loopback HTTP server recording every request (path, headers, body); GET answers a status document."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> bytes:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                return body

            def do_GET(self) -> None:
                self._record()
                payload = json.dumps({"status": "ok", "results": {"stats": {"online": 3}}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                self._record()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the subprocesses, dropped afterwards."""
    name = f"traced_poll_{uuid.uuid4().hex[:10]}"
    config = Env.db_url_config(postgres_url)
    admin = f"postgresql://{config['USER']}@{config['HOST']}:{config['PORT']}/postgres"
    if config.get("PASSWORD"):
        admin = f"postgresql://{config['USER']}:{config['PASSWORD']}@{config['HOST']}:{config['PORT']}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def spans_of(receiver: Loopback) -> list[Any]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    found = []
    for method, path, _, body in receiver.requests:
        if method != "POST" or path != "/v1/traces":
            continue
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                found.extend(scope.spans)
    return found


def attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attribute in span.attributes:
        value = attribute.value
        values[attribute.key] = getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
    return values


def descendants(spans: list[Any], root: Any) -> list[Any]:
    children: dict[bytes, list[Any]] = {}
    for span in spans:
        children.setdefault(span.parent_span_id, []).append(span)
    found, todo = [], [root.span_id]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.span_id)
    return found


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )


@pytest.mark.slow
def test_it_traces_a_poll_with_http_sql_and_redis_child_spans(database: str, redis_url: str, tmp_path: Path) -> None:
    upstream, collector = Loopback(), Loopback()
    try:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_"))}
        env = {
            **base,
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": database,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"traced-{uuid.uuid4().hex[:8]}",
            "POLLER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
            "POLLER_RETRIES": "0",
            "LOG_LEVEL": "warning",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
            "OTEL_SERVICE_NAME": "traced-poll-test",
        }
        migrated = manage(env, "migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        url = f"http://127.0.0.1:{upstream.port}/status?token={QUERY_SECRET}"
        created = manage(
            env,
            "shell",
            "--no-imports",
            "-c",
            f"from pollers.models import Source; Source.objects.create(slug='traced', name='Traced', url='{url}')",
        )
        assert created.returncode == 0, created.stderr[-3000:]

        collector.requests.clear()
        polled = manage(env, "poll", "--source", "traced")
        assert polled.returncode == 0, polled.stdout + polled.stderr[-3000:]

        spans = spans_of(collector)
        (poll,) = [s for s in spans if s.name == "poll"]
        below = descendants(spans, poll)
        http = [s for s in below if "http.request.method" in attributes(s) or "http.method" in attributes(s)]
        sql = [s for s in below if attributes(s).get("db.system") == "postgresql"]
        redis = [s for s in below if attributes(s).get("db.system") == "redis"]
        assert http, [s.name for s in below]
        assert sql, [s.name for s in below]
        assert redis, [s.name for s in below]
        # The poll request carried the poll's trace upstream.
        (get,) = [r for r in upstream.requests if r[0] == "GET"]
        traceparent = get[2]["traceparent"]
        assert traceparent.split("-")[1] == poll.trace_id.hex()
        # No query string (the token) in any span attribute.
        for span in spans:
            assert QUERY_SECRET not in json.dumps(attributes(span), default=str), span.name

        upstream.requests.clear()
        quiet = manage({**env, "POLLER_PROPAGATE_TRACE": "false"}, "poll", "--source", "traced")
        assert quiet.returncode == 0, quiet.stderr[-3000:]
        (get,) = [r for r in upstream.requests if r[0] == "GET"]
        assert "traceparent" not in get[2]
    finally:
        upstream.close()
        collector.close()
