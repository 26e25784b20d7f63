"""OpenTelemetry tracing: on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a collector, a no-op otherwise.

Call sites wrap a unit of work::

    from observability.tracing import span

    with span("store.record", source=slug, backend="sql"):
        ...

When tracing is off, ``span`` yields None and costs one global read. Spans nest through the
OpenTelemetry context (context variables), so a store write inside a poll is a child of the poll.
The provider is this module's own rather than the process-global one, so tests can swap in an
in-memory exporter and nothing else in the process is affected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

logger = logging.getLogger(__name__)

_provider: TracerProvider | None = None
_tracer: Tracer | None = None

AttributeValue = str | bool | int | float


def enabled() -> bool:
    return _tracer is not None


def configure(exporter: SpanExporter | None, *, batch: bool = True, sample_ratio: float = 1.0) -> None:
    """Install a tracer provider sending to ``exporter`` (None turns tracing off)."""
    global _provider, _tracer
    shutdown()
    if exporter is None:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    # Batching keeps exporting off the request path; tests export synchronously to read spans at once.
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("devops_insights")


def configure_from_settings() -> None:
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # The OTLP/HTTP convention: the variable is the collector's base URL, traces go to /v1/traces.
    # Headers (for example an API key) come from OTEL_EXPORTER_OTLP_HEADERS, read by the exporter.
    configure(
        OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"),
        sample_ratio=settings.OTEL_TRACES_SAMPLE_RATIO,
    )
    # Only the host: the URL may carry credentials.
    logger.info("tracing exported over OTLP/HTTP to %s", urlsplit(endpoint).hostname)


def shutdown() -> None:
    """Flush and stop the current provider (at exit, or before a test installs another)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = None
    _tracer = None


@contextmanager
def span(name: str, **attributes: AttributeValue | None) -> Iterator[Span | None]:
    """A span named ``name`` with ``attributes`` (None values left out); a no-op when tracing is off.

    An exception escaping the block is recorded on the span and the span marked as an error.
    """
    tracer = _tracer
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=_clean(attributes)) as current:
        yield current


@contextmanager
def server_span(name: str, carrier: Mapping[str, str], **attributes: AttributeValue | None) -> Iterator[Span | None]:
    """Like ``span``, continuing the trace named by a W3C ``traceparent`` in ``carrier`` (request headers)."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    parent = extract(carrier)
    with tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.SERVER, attributes=_clean(attributes)
    ) as current:
        yield current


def _clean(attributes: dict[str, Any]) -> dict[str, AttributeValue]:
    return {key: value for key, value in attributes.items() if value is not None}
