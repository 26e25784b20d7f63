"""Encode each published event to its client message once per process, however many connections get it.

Every subscriber of a source receives the same text for an event. Encoding it per connection was
half of the fan-out CPU time in bench/ws_fanout.py (a 3 KB payload times 1,000 connections), so the
process's LocalHub encodes an event once (``outbound``) and hands the one ``str`` to every
connection; under daphne the same object then becomes one prepared WebSocket frame
(realtime/transport.py).

A process whose channel sits in ``metrics.<slug>`` and ``metrics.all`` receives one copy of each
event per group; ``realtime.events`` stamps every publish with an ``event_id`` so that both copies
share one encoding (a few hundred recent ids are remembered; an event without one is encoded per copy).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from observability.instruments import WEBSOCKET_ENCODES

_MAX_ENTRIES = 256
_recent: OrderedDict[str, str] = OrderedDict()

# Event ``type`` on the channel layer -> message ``type`` to clients (docs/websocket-protocol.md).
CLIENT_TYPES = {"metric.update": "update", "source.status": "source_status", "alert.event": "alert"}


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def update_message(event: dict[str, Any]) -> dict[str, Any]:
    message = {
        "type": "update",
        "source": event["source"],
        "hash": event["hash"],
        "sequence": event["sequence"],
        "fetched_at": event["fetched_at"],
        "metrics": event["metrics"],
        "diff": event["diff"],
    }
    if "payload" in event:
        message["payload"] = event["payload"]
    if "published_at" in event:
        message["published_at"] = event["published_at"]
    return message


def client_message(event: dict[str, Any]) -> dict[str, Any] | None:
    """The message clients receive for a channel-layer event; None for a type clients never see."""
    kind = event.get("type")
    if kind == "metric.update":
        return update_message(event)
    if kind == "source.status":
        return {
            "type": "source_status",
            "source": event["source"],
            "status": event["status"],
            "detail": event["detail"],
        }
    if kind == "alert.event":
        return {"type": "alert", "source": event["source"], "event": event["event"]}
    return None


def outbound(event: dict[str, Any]) -> str | None:
    """The text frame for ``event``, encoded at most once per ``event_id`` in this process."""
    event_id = event.get("event_id")
    if isinstance(event_id, str):
        text = _recent.get(event_id)
        if text is not None:
            return text
    message = client_message(event)
    if message is None:
        return None
    text = dumps(message)
    WEBSOCKET_ENCODES.labels(type=message["type"]).inc()
    if isinstance(event_id, str):
        _recent[event_id] = text
        if len(_recent) > _MAX_ENTRIES:
            _recent.popitem(last=False)
    return text
