"""Publish store changes and source status to the channel layer, from sync code (the poller).

Event contract (consumers handle ``type`` ``metric.update`` in ``metric_update`` and
``source.status`` in ``source_status``). Groups: ``metrics.<slug>`` and ``metrics.all``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from metrics.stores.base import RecordResult

ALL_GROUP = "metrics.all"


def source_group(slug: str) -> str:
    return f"metrics.{slug}"


def _send(slug: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in (source_group(slug), ALL_GROUP):
        async_to_sync(layer.group_send)(group, event)


def publish_update(slug: str, result: RecordResult, fetched_at: datetime, poll_id: str | None = None) -> None:
    _send(
        slug,
        {
            "type": "metric.update",
            "source": slug,
            "hash": result.hash,
            "sequence": result.sequence,
            "fetched_at": fetched_at.isoformat(),
            "metrics": result.metrics,
            "diff": [{"path": c.path, "old": c.old, "new": c.new, "kind": c.kind} for c in result.diff],
            "poll_id": poll_id,
        },
    )


def publish_source_status(slug: str, status: str, detail: dict[str, Any]) -> None:
    """``status``: "failing", "circuit_open" or "recovered"; ``detail`` is JSON-serializable."""
    _send(slug, {"type": "source.status", "source": slug, "status": status, "detail": detail})
