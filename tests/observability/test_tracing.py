"""OpenTelemetry spans: off by default, request/poll/store spans nest, OTLP export when configured."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.test import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from observability import tracing


def test_it_is_a_no_op_when_off() -> None:
    tracing.shutdown()
    assert not tracing.enabled()
    with tracing.span("poll", source="us-east") as current:
        assert current is None


def test_it_traces_a_request_as_a_server_span(client: Client, spans: InMemorySpanExporter) -> None:
    response = client.get("/api/v1/health")
    (span,) = spans.get_finished_spans()
    assert span.name == "HTTP GET /api/v1/health"
    assert span.kind == SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["http.route"] == "/api/v1/health"
    assert response["X-Request-ID"]


def test_it_continues_the_callers_trace(client: Client, spans: InMemorySpanExporter) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    client.get("/api/v1/health", HTTP_TRACEPARENT=f"00-{trace_id}-00f067aa0ba902b7-01")
    (span,) = spans.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


def test_it_nests_store_cache_and_publish_spans_under_the_poll(spans: InMemorySpanExporter) -> None:
    with tracing.span("poll", source="us-east", poll_id="p-9"):
        with tracing.span("store.record", source="us-east", backend="sql"), tracing.span("cache.invalidate"):
            pass
        with tracing.span("publish", source="us-east", changed=True, skipped=None):
            pass
    finished = {s.name: s for s in spans.get_finished_spans()}
    poll = finished["poll"]
    assert poll.attributes == {"source": "us-east", "poll_id": "p-9"}
    assert finished["store.record"].parent is not None
    assert finished["store.record"].parent.span_id == poll.context.span_id
    assert finished["cache.invalidate"].parent.span_id == finished["store.record"].context.span_id  # type: ignore[union-attr]
    assert finished["publish"].parent.span_id == poll.context.span_id  # type: ignore[union-attr]
    assert finished["publish"].attributes == {"source": "us-east", "changed": True}  # None values left out
    assert len({s.context.trace_id for s in finished.values()}) == 1


def test_it_marks_a_span_failed_when_the_block_raises(spans: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError, match="store down"), tracing.span("store.record"):
        raise RuntimeError("store down")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.events[0].name == "exception"


def test_it_exports_over_otlp_http_when_an_endpoint_is_set(settings: Any) -> None:
    """A real OTLP/HTTP receiver on loopback decodes what the exporter sent."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.OTEL_EXPORTER_OTLP_ENDPOINT = f"http://127.0.0.1:{server.server_port}/"
        settings.OTEL_SERVICE_NAME = "insights-test"
        tracing.configure_from_settings()
        assert tracing.enabled()
        with tracing.span("poll", source="eu-west"):
            pass
        tracing.shutdown()  # flushes the batch
    finally:
        tracing.uninstrument_libraries()  # configure_from_settings instrumented them for this process
        server.shutdown()
        server.server_close()
    assert received
    path, body = received[0]
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    resource_spans = request.resource_spans[0]
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    assert service == "insights-test"
    names = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert names == ["poll"]


def test_it_rejects_a_bad_endpoint_and_sample_ratio(tmp_path: Any) -> None:
    from tests.run_manage import assert_one_line_error, run_manage

    result = run_manage("check", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://collector:4317"}, tmp_path=tmp_path)
    assert_one_line_error(result, "OTEL_EXPORTER_OTLP_ENDPOINT", "unknown scheme 'grpc'")
    result = run_manage("check", env={"OTEL_TRACES_SAMPLE_RATIO": "1.5"}, tmp_path=tmp_path)
    assert_one_line_error(result, "OTEL_TRACES_SAMPLE_RATIO", "must be at most 1.0")


def test_it_traces_cached_reads_with_their_result(spans: InMemorySpanExporter, redis_settings: Any, db: None) -> None:
    from datetime import UTC, datetime

    from metrics.stores import get_store
    from metrics.stores.base import SourceSpec

    get_store.cache_clear()
    try:
        store = get_store()
        store.record(SourceSpec("us-east"), {"a": 1}, datetime.now(UTC))
        spans.clear()
        # history, not latest: a write warms the latest snapshot into the cache.
        store.history("us-east")
        store.history("us-east")
    finally:
        get_store.cache_clear()
    reads = [s for s in spans.get_finished_spans() if s.name == "cache.history"]
    assert [s.attributes["cache.result"] for s in reads] == ["miss", "hit"]  # type: ignore[index]
    # The miss went to the store: its span is a child of the cache span.
    store_span = next(s for s in spans.get_finished_spans() if s.name == "store.history")
    assert store_span.parent is not None
    assert store_span.parent.span_id == reads[0].context.span_id


def test_it_scrubs_credentials_query_strings_and_fragments_from_urls() -> None:
    assert tracing.scrub_url("https://user:pw@api.example.com:8443/v1/status?token=abc#frag") == (
        "https://api.example.com:8443/v1/status"
    )
    assert tracing.scrub_url("http://127.0.0.1/status") == "http://127.0.0.1/status"


@pytest.mark.django_db
def test_it_keeps_the_secret_of_an_invitation_link_out_of_the_request_span(
    client: Client, spans: InMemorySpanExporter
) -> None:
    client.get("/invitations/inv-Sekrit_123/")
    span = next(s for s in spans.get_finished_spans() if s.name.startswith("HTTP "))
    assert span.attributes is not None
    assert span.attributes["url.path"] == "/invitations/[redacted]/"


def test_it_keeps_secrets_in_paths_out_of_the_instrumented_spans(spans: InMemorySpanExporter) -> None:
    # What the Django instrumentation records of a request, scrubbed by its hook.
    attributes = {
        "http.target": "/invitations/inv-Sekrit_123/?x=1",
        "http.url": "http://127.0.0.1:8000/accounts/password/reset/key/3-set-Sekrit/",
        "url.path": "/invitations/inv-Sekrit_123/",
    }
    with tracing.span("GET", **attributes) as current:
        tracing._server_hook(current)
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {}) == {
        "http.target": "/invitations/[redacted]/",
        "http.url": "http://127.0.0.1:8000/accounts/password/reset/key/3-[redacted]/",
        "url.path": "/invitations/[redacted]/",
    }


def test_it_sends_traceparent_only_where_propagation_is_on(spans: InMemorySpanExporter) -> None:
    from opentelemetry import propagate

    tracing.instrument_libraries(("requests",))
    try:
        with tracing.span("poll"):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            assert "traceparent" in carrier
            with tracing.propagation(False):
                quiet: dict[str, str] = {}
                propagate.inject(quiet)
                assert quiet == {}
    finally:
        tracing.uninstrument_libraries()
