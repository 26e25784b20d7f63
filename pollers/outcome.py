"""What one poll of one source produced: the value the poller hands to everyone who listens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metrics.stores.base import RecordResult


@dataclass(frozen=True)
class PollOutcome:
    source: str  # slug
    poll_id: str  # carried into logs, the store's poll metadata and the published event
    started_at: datetime
    ok: bool
    latency_ms: float | None = None
    status_code: int | None = None
    # Set when ok: the stored result (changed, hash, metrics, sequence, diff) and the payload itself.
    record: RecordResult | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)
    # Set when not ok: a short machine-readable kind ("timeout", "http_503", "not_json", ...) and a message.
    error_kind: str = ""
    error_message: str = ""
    attempts: int = 1
    # True when the circuit was open and the source was skipped without a request.
    skipped: bool = False
    # Seconds the upstream asked us to wait (a 429's Retry-After longer than we wait inside a poll), at most
    # POLLER_RETRY_AFTER_MAX: the scheduler does not poll the source again before then.
    retry_after: float | None = None
