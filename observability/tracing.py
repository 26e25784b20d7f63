"""OpenTelemetry tracing: on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a collector, a no-op otherwise.

Call sites wrap a unit of work::

    from observability.tracing import span

    with span("store.record", source=slug, backend="sql"):
        ...

When tracing is off, ``span`` yields None and costs one global read. Spans nest through the
OpenTelemetry context (context variables), so a store write inside a poll is a child of the poll.
The provider is this module's own rather than the process-global one, so tests can swap in an
in-memory exporter and nothing else in the process is affected.

With an OTLP endpoint set, the libraries are instrumented too (``instrument_libraries``): Django
requests, ``requests`` calls (every poll attempt, webhook), SQL through psycopg, Redis and pymongo
calls, each a span under the current poll or request span. They use a provider that forwards to
whichever one this module holds (``_CurrentProvider``), so swapping providers reaches them too.
Outgoing requests carry a W3C ``traceparent`` unless ``propagation(False)`` is in force (the poller
sets it from ``POLLER_PROPAGATE_TRACE``). Query strings and secret headers never reach a span
attribute (``scrub_url``, the hooks below), nor does a secret in the path of a request to this product (an
invitation's token, a password reset's key: ``observability.access_log.redact_path``).
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from observability.access_log import redact_path

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
    instrument_libraries()
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
    from opentelemetry.trace import SpanKind, get_current_span

    if get_current_span().get_span_context().is_valid:
        # The Django instrumentation already opened the request's server span (and continued the
        # caller's trace): ours is its child, not a second root.
        with tracer.start_as_current_span(name, kind=SpanKind.INTERNAL, attributes=_clean(attributes)) as current:
            yield current
        return
    parent = extract(carrier)
    with tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.SERVER, attributes=_clean(attributes)
    ) as current:
        yield current


def _clean(attributes: dict[str, Any]) -> dict[str, AttributeValue]:
    return {key: value for key, value in attributes.items() if value is not None}


# --- Library instrumentation -----------------------------------------------------------------

_instrumentors: list[Any] = []
_propagate: contextvars.ContextVar[bool] = contextvars.ContextVar("observability_propagate_trace", default=True)
# Header names whose values a captured-header attribute must never show (the instrumentations read this).
SANITIZED_HEADERS = "authorization,proxy-authorization,cookie,set-cookie,x-api-key,.*token.*,.*secret.*,.*key.*"
_URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
_QUERY_ATTRIBUTES = ("url.query",)
_PATH_ATTRIBUTES = ("url.path",)


def scrub_url(url: str) -> str:
    """The URL without credentials, query string or fragment (they may carry tokens)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _secret_free_path(url: str) -> str:
    """``url`` (a URL or a path to this product) with a secret in its path redacted, as the access log writes it."""
    if "://" not in url:
        return redact_path(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit(parts._replace(path=redact_path(parts.path)))


def _scrub_span(span: Any, ours: bool) -> None:
    """``ours``: the span of a request to this product, whose paths may carry a secret (``redact_path``)."""
    attributes = getattr(span, "attributes", None) or {}
    for key in (*_URL_ATTRIBUTES, *(_PATH_ATTRIBUTES if ours else ())):
        value = attributes.get(key)
        if not isinstance(value, str):
            continue
        clean = value
        if "?" in value or "@" in value or "#" in value:
            clean = scrub_url(value) if "://" in value else value.split("?", 1)[0].split("#", 1)[0]
        if ours:
            clean = _secret_free_path(clean)
        if clean != value:
            span.set_attribute(key, clean)
    for key in _QUERY_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, "")


def _http_hook(span: Any, *args: Any) -> None:
    """For the requests this product makes (to upstreams, webhooks)."""
    if span is not None and span.is_recording():
        _scrub_span(span, ours=False)


def _server_hook(span: Any, *args: Any) -> None:
    """For the requests this product answers."""
    if span is not None and span.is_recording():
        _scrub_span(span, ours=True)


class _CurrentTracer:
    """A tracer that starts its spans on the provider this module holds now (a no-op when off)."""

    def __init__(self, name: str, version: str | None, schema_url: str | None) -> None:
        self.name, self.version, self.schema_url = name, version, schema_url
        self._cache: tuple[Any, Any] | None = None

    def _real(self) -> Any:
        from opentelemetry.trace import NoOpTracer

        provider = _provider
        if provider is None:
            return NoOpTracer()
        cached = self._cache
        if cached is None or cached[0] is not provider:
            cached = (provider, provider.get_tracer(self.name, self.version, self.schema_url))
            self._cache = cached
        return cached[1]

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().start_as_current_span(*args, **kwargs)


def _current_provider() -> Any:
    from opentelemetry import trace

    class CurrentProvider(trace.TracerProvider):
        def get_tracer(
            self,
            instrumenting_module_name: str,
            instrumenting_library_version: str | None = None,
            schema_url: str | None = None,
            attributes: Any = None,
        ) -> Any:
            return _CurrentTracer(instrumenting_module_name, instrumenting_library_version, schema_url)

    return CurrentProvider()


def _switchable_propagator() -> Any:
    from opentelemetry import propagate
    from opentelemetry.propagators.textmap import TextMapPropagator

    inner = propagate.get_global_textmap()

    class Switchable(TextMapPropagator):
        def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
            return inner.extract(carrier, context=context, **({"getter": getter} if getter else {}))

        def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
            if _propagate.get():
                inner.inject(carrier, context=context, **({"setter": setter} if setter else {}))

        @property
        def fields(self) -> set[str]:
            return set(inner.fields)

    return Switchable()


@contextmanager
def propagation(enabled: bool) -> Iterator[None]:
    """Within the block, outgoing requests carry ``traceparent`` only when ``enabled``."""
    token = _propagate.set(enabled)
    try:
        yield
    finally:
        _propagate.reset(token)


def instrument_libraries(libraries: Sequence[str] = ("django", "requests", "redis", "psycopg", "pymongo")) -> None:
    """Instrument the libraries once per process (idempotent); their spans follow this module's provider."""
    if _instrumentors:
        return
    from opentelemetry import propagate

    # The instrumentations read this when they capture headers: secrets are replaced with [REDACTED].
    os.environ.setdefault("OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", SANITIZED_HEADERS)
    propagate.set_global_textmap(_switchable_propagator())
    provider = _current_provider()
    for library in libraries:
        instrumentor, options = _instrumentor(library)
        instrumentor.instrument(tracer_provider=provider, **options)
        _instrumentors.append(instrumentor)


def _instrumentor(library: str) -> tuple[Any, dict[str, Any]]:
    if library == "django":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        return DjangoInstrumentor(), {"request_hook": _server_hook, "response_hook": _server_hook}
    if library == "requests":
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        return RequestsInstrumentor(), {"request_hook": _http_hook, "response_hook": _http_hook}
    if library == "redis":
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        return RedisInstrumentor(), {}
    if library == "psycopg":
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        return PsycopgInstrumentor(), {"skip_dep_check": True}
    if library == "pymongo":
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

        return PymongoInstrumentor(), {}
    raise ValueError(f"no instrumentation for {library!r}")


def uninstrument_libraries() -> None:
    """Undo ``instrument_libraries`` (tests)."""
    from opentelemetry import propagate
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    while _instrumentors:
        _instrumentors.pop().uninstrument()
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
