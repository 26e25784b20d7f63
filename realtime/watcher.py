"""Live updates without Redis: watch the store for changes other processes make.

The in-memory channel layer lives inside one process, so in the embedded setup (no ``REDIS_URL``:
``make run`` starts the poller and daphne as separate processes) the poller's publishes never
reach the web process. While at least one WebSocket is connected, each web process running the
in-memory layer reads every source's sequence (``latest_heads()``, no documents) every
``REALTIME_STORE_WATCH_INTERVAL`` seconds, then the snapshots of the sources whose sequence moved
(``latest_of``, ``WATCH_CHUNK`` at a time), and sends a ``metric.update`` to the usual groups for each.
With Redis the poller publishes directly and this never runs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer

from metrics.serialization import WEBSOCKET_FORM, diff_json
from metrics.stores import get_store
from metrics.stores.base import Snapshot
from realtime.groups import ALL_GROUP, source_group

logger = logging.getLogger(__name__)


# Snapshots of moved sources read (and held) at once: a poller round can change every source between two
# looks, and their documents are what weighs, not the sequences.
WATCH_CHUNK = 100


@database_sync_to_async
def read_sequences() -> dict[str, int]:
    return {slug: head.sequence for slug, head in get_store().latest_heads().items()}


@database_sync_to_async
def read_snapshots(slugs: list[str]) -> dict[str, Snapshot]:
    return get_store().latest_of(slugs)


@database_sync_to_async
def read_diff(slug: str, sequence: int) -> list[dict[str, Any]]:
    entries = get_store().history(slug, limit=1).entries
    return diff_json(entries[0].diff, form=WEBSOCKET_FORM) if entries and entries[0].sequence == sequence else []


class StoreWatcher:
    """One per event loop; runs while connections hold it."""

    def __init__(self, layer: BaseChannelLayer, interval: float) -> None:
        self.layer = layer
        self.interval = interval
        self.holders = 0
        self.task: asyncio.Task[None] | None = None

    def acquire(self) -> None:
        self.holders += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    def release(self) -> None:
        self.holders = max(0, self.holders - 1)
        if self.holders == 0 and self.task is not None:
            self.task.cancel()
            self.task = None

    async def run(self) -> None:
        seen: dict[str, int] | None = None
        while True:
            try:
                sequences = await read_sequences()
                if seen is None:
                    # What exists when watching starts was sent as snapshots; only later changes are news.
                    seen = sequences
                else:
                    moved = sorted(slug for slug, sequence in sequences.items() if sequence > seen.get(slug, 0))
                    for at in range(0, len(moved), WATCH_CHUNK):
                        await self.announce_moved(moved[at : at + WATCH_CHUNK], seen)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("realtime: watching the store failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def announce_moved(self, slugs: list[str], seen: dict[str, int]) -> None:
        snapshots = await read_snapshots(slugs)
        for slug in slugs:
            snapshot = snapshots.get(slug)
            # Gone since its sequence was read (deleted), or already announced at a later sequence: nothing new.
            if snapshot is not None and snapshot.sequence > seen.get(slug, 0):
                seen[slug] = snapshot.sequence
                await self.announce(snapshot)

    async def announce(self, snapshot: Snapshot) -> None:
        event = {
            "type": "metric.update",
            "source": snapshot.source,
            "hash": snapshot.hash,
            "sequence": snapshot.sequence,
            "fetched_at": WEBSOCKET_FORM.time(snapshot.fetched_at),
            "metrics": snapshot.metrics,
            "diff": await read_diff(snapshot.source, snapshot.sequence),
            "payload": snapshot.payload,
            "poll_id": snapshot.poll_meta.get("poll_id"),
            "published_at": WEBSOCKET_FORM.time(datetime.now(UTC)),
            "event_id": uuid.uuid4().hex,  # both group copies share one encoding (realtime.encoding)
        }
        for group in (source_group(snapshot.source), ALL_GROUP):
            await self.layer.group_send(group, {**event, "group": group})


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StoreWatcher] = weakref.WeakKeyDictionary()


def watcher_for(layer: BaseChannelLayer, interval: float) -> StoreWatcher:
    loop = asyncio.get_running_loop()
    watcher = _watchers.get(loop)
    if watcher is None or watcher.layer is not layer:
        watcher = _watchers[loop] = StoreWatcher(layer, interval)
    return watcher
