"""How a source looks in API responses; store records take their shape from ``metrics.serialization``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.source_input import shown_url
from metrics.serialization import time_json
from pollers import health
from pollers.models import MASK, Source


def poll_status(source: Source, now: datetime | None = None) -> str:
    """``health.status``, by ``pollers.health``'s rules: disabled, pending, ok, failing or stale.

    The API's word list predates the circuit breaker: an open circuit reads "failing" here, and
    ``health.circuit_state`` says which.
    """
    state = health.assess(source, now).state
    return health.FAILING if state == health.CIRCUIT_OPEN else state


def shown_secret(*, stored: bool) -> str | None:
    """A write-only secret as responses show it: only whether one is stored, as the mask a credential header
    value gets (``Source.masked_headers``); null when none is."""
    return MASK if stored else None


def source_data(source: Source) -> dict[str, Any]:
    return {
        "slug": source.slug,
        "team": source.team.slug,
        "name": source.name,
        "url": shown_url(source.url),
        "enabled": source.enabled,
        "interval_seconds": source.interval_seconds,
        "timeout_seconds": source.timeout_seconds,
        "headers": source.masked_headers(),
        "region": source.region,
        "tags": list(source.tags or []),
        "metric_paths": dict(source.metric_paths or {}),
        "volatile_paths": list(source.volatile_paths or []),
        "pinned_metrics": list(source.pinned_metrics or []),
        # Refused with credentials at save; one stored before that rule shows its password masked, as a URL does.
        "proxy": shown_url(source.proxy) if source.proxy else "",
        "tls_verify": source.tls_verify,
        "insecure_credentials_acknowledged": source.insecure_credentials_acknowledged,
        # Computed by the rule that refuses such a save: a source stored before it keeps polling, and says so here.
        "credentials_sent_unverified": source.credentials_sent_unverified(),
        "tls_ca_pem": source.tls_ca_pem,
        "auth_scheme": source.auth_scheme,
        "auth_username": source.auth_username,
        "auth_secret": shown_secret(stored=source.has_auth_secret),
        "tls_client_cert_pem": source.tls_client_cert_pem,
        "tls_client_key": shown_secret(stored=source.has_client_key),
        "alert_state": source.alert_state,
        "created_at": time_json(source.created_at),
        "updated_at": time_json(source.updated_at),
        "health": {
            "status": poll_status(source),
            "last_polled_at": time_json(source.last_polled_at),
            "last_success_at": time_json(source.last_success_at),
            "last_error_at": time_json(source.last_error_at),
            "last_error_kind": source.last_error_kind,
            "last_error_message": source.last_error_message,
            "consecutive_failures": source.consecutive_failures,
            "circuit_state": source.circuit_state,
            "last_latency_ms": source.last_latency_ms,
            "last_status_code": source.last_status_code,
        },
    }
