"""The event messages: build store changes, source health changes and alerts and send them to the channel layer.

Called from sync code: ``realtime.receivers``, on the poller's and the alert evaluator's signals.

Event contract: ``type`` is ``metric.update``, ``source.status`` or ``alert.event``; the web
process's LocalHub encodes each into its client message once (``realtime.encoding``) and the
consumer forwards that text to the connections that want the source. Each event goes to
the source's group ``metrics.<slug>`` and to ``metrics.all``. Sends reuse one event loop and one
connection for the whole process (see ``realtime.layer_sender``); a failed send is logged, never raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from metrics.serialization import WEBSOCKET_FORM, record_diff_json
from metrics.stores.base import JsonObject, RecordResult
from observability.tracing import span
from realtime.groups import ALL_GROUP, source_group
from realtime.layer_sender import layer_sender

__all__ = ["ALL_GROUP", "publish_alert", "publish_source_status", "publish_update", "source_group"]


def update_event(
    slug: str, result: RecordResult, fetched_at: datetime, poll_id: str | None, payload: JsonObject | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "metric.update",
        "source": slug,
        "hash": result.hash,
        "sequence": result.sequence,
        "fetched_at": WEBSOCKET_FORM.time(fetched_at),
        "metrics": result.metrics,
        "diff": record_diff_json(result, form=WEBSOCKET_FORM),
        "poll_id": poll_id,
        # Lets a client (and bench/ws_fanout.py) measure the delay from publishing to receipt.
        "published_at": WEBSOCKET_FORM.time(datetime.now(UTC)),
    }
    if payload is not None:
        event["payload"] = payload
    return event


def _send(slug: str, kind: str, build: Callable[[], dict[str, Any]]) -> bool:
    """Publish the event of type ``kind`` that ``build`` makes, only when it goes somewhere (``LayerSender.send``)."""

    def event() -> dict[str, Any]:
        built = build()
        # One id per publish: a web process receives a copy per group it sits in and encodes them once.
        built["event_id"] = uuid.uuid4().hex
        return built

    with span("publish", source=slug, type=kind):
        return layer_sender.send((source_group(slug), ALL_GROUP), event, settings.REALTIME_PUBLISH_TIMEOUT)


def publish_update(
    slug: str,
    result: RecordResult,
    fetched_at: datetime,
    poll_id: str | None = None,
    payload: JsonObject | None = None,
) -> bool:
    """After a changed ``record``: tell every subscriber of ``slug``. True when the layer took it.

    ``payload`` (optional) travels with the update so clients need not apply the diff themselves.
    """
    return _send(slug, "metric.update", lambda: update_event(slug, result, fetched_at, poll_id, payload))


def publish_source_status(slug: str, status: str, detail: dict[str, Any]) -> bool:
    """``status``: one of ``pollers.health.CHANGES`` ("failing", "circuit_open", "recovered"); ``detail`` is JSON."""
    return _send(
        slug, "source.status", lambda: {"type": "source.status", "source": slug, "status": status, "detail": detail}
    )


def publish_alert(slug: str, event: dict[str, Any]) -> bool:
    """An alert fired or resolved for ``slug`` (``event`` is JSON-serializable, shaped by alerts/)."""
    return _send(slug, "alert.event", lambda: {"type": "alert.event", "source": slug, "event": event})
