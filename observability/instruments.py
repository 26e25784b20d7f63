"""The service's own Prometheus instruments, in one place so every area counts the same way.

Import the instrument and update it where the event happens, for example::

    from observability import instruments
    instruments.LEASE_CLAIMS.labels(result="acquired").inc()
    with instruments.STORE_OPERATION_SECONDS.labels(backend="sql", operation="record").time():
        ...

Instruments live in the process that updates them (see observability/exposition.py for how the web
and the poller processes are scraped). Label values must come from a small, bounded set: a source
slug, an outcome, an operation name; never a URL, an id or an error message.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "devops_insights"

# --- Polling (updated by pollers.instrumentation, once per poll with its final outcome)
POLL_DURATION_SECONDS = Histogram(
    f"{PREFIX}_poll_duration_seconds",
    "Time from the first request of a poll to its stored result, per source.",
    ["source"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
POLLS = Counter(
    f"{PREFIX}_polls",
    "Polls by outcome: changed, unchanged, failed, skipped (circuit open).",
    ["source", "outcome"],
)
POLL_ERRORS = Counter(f"{PREFIX}_poll_errors", "Failed polls by error kind.", ["source", "kind"])
POLL_RETRIES = Counter(f"{PREFIX}_poll_retries", "Requests retried within a poll.", ["source"])

# --- Poller leases (pollers/ increments: result is acquired, renewed, lost, released or contended)
LEASE_CLAIMS = Counter(f"{PREFIX}_lease_claims", "Source lease claims by result.", ["result"])

# --- Metric store and read cache (metrics/)
STORE_OPERATION_SECONDS = Histogram(
    f"{PREFIX}_store_operation_seconds",
    "Metric store call latency by backend and operation (record, latest, latest_all, history, series, prune).",
    ["backend", "operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
STORE_ERRORS = Counter(f"{PREFIX}_store_errors", "Metric store calls that raised StoreError.", ["backend", "operation"])
# Read cache hits and misses: counted by metrics.read_cache itself and exported by
# metrics.collectors.ReadCacheCollector (devops_insights_cache_requests_total{operation, result}).

# --- WebSockets (realtime/)
WEBSOCKET_CONNECTIONS = Gauge(f"{PREFIX}_websocket_connections", "WebSocket connections open in this process.")
WEBSOCKET_CONNECTS = Counter(f"{PREFIX}_websocket_connects", "WebSocket connections accepted or refused.", ["result"])
WEBSOCKET_MESSAGES_SENT = Counter(
    f"{PREFIX}_websocket_messages_sent", "Messages sent to browsers by message type.", ["type"]
)
# Once per published event per web process (realtime.encoding), not per connection: the ratio of
# messages sent to encodes is the fan-out width.
WEBSOCKET_ENCODES = Counter(
    f"{PREFIX}_websocket_encodes", "Events encoded to client JSON by message type (once per process).", ["type"]
)

# --- HTTP requests (observability.middleware); the route is the URL pattern, never the raw path
HTTP_REQUESTS = Counter(f"{PREFIX}_http_requests", "HTTP requests by method and status code.", ["method", "status"])
HTTP_REQUEST_DURATION_SECONDS = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "HTTP request latency by URL pattern.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# The admission queue in front of Django (devops_insights/admission.py): requests waiting for a slot now, and
# requests answered 503 because none came within WEB_QUEUE_TIMEOUT.
HTTP_REQUESTS_QUEUED = Gauge(f"{PREFIX}_http_requests_queued", "HTTP requests waiting for a slot to run in Django.")
HTTP_REQUESTS_SHED = Counter(f"{PREFIX}_http_requests_shed", "HTTP requests answered 503 after waiting for a slot.")

# --- Retention (metrics.lifecycle: rollups, manage.py prune, the poll loop's retention step)
ROLLUP_BUCKETS_WRITTEN = Counter(f"{PREFIX}_rollup_buckets_written", "Rollup buckets (re)computed by tier.", ["tier"])
ROLLUP_LAST_SUCCESS = Gauge(f"{PREFIX}_rollup_last_success_timestamp_seconds", "When rollups last completed.")
PRUNE_DELETED = Counter(f"{PREFIX}_prune_deleted", "Rows or documents deleted by pruning, by kind.", ["kind"])
PRUNE_ARCHIVED = Counter(f"{PREFIX}_prune_archived", "Raw history entries written to archive files.")
PRUNE_LAST_SUCCESS = Gauge(f"{PREFIX}_prune_last_success_timestamp_seconds", "When a prune run last completed.")
