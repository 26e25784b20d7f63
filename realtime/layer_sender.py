"""The long-lived send loop: channel-layer group messages from sync code over one event loop per process.

``async_to_sync(layer.group_send)`` builds a new event loop per call, and channels-redis keeps its
connection pools per loop, so every message would open (and leak until the loop closes) a fresh
Redis connection. The poller publishes after every changed record, so this module runs one daemon
thread with one asyncio loop for the whole process and hands each send to it with
``run_coroutine_threadsafe``: one connection, reused for every message.

The in-memory layer is the exception: it lives inside one process and is bound to the loop its
consumers run on, so sends to it go through ``async_to_sync``, which (called from a
``sync_to_async`` thread) runs them on that very loop.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)


class LayerSender:
    """Process-wide sender of group messages; safe to call from any number of threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def send(self, groups: Sequence[str], event: dict[str, Any] | Callable[[], dict[str, Any]], timeout: float) -> bool:
        """Send ``event`` to every group; True when the layer took it.

        ``event`` may be a function that builds it, called only when the event goes somewhere: with the
        in-memory layer and nobody listening in this process (a poller on its own) an update's diff is
        not turned into its message for nothing, a noticeable part of a changed poll.

        Blocks until the layer has the message (so two publishes for one source arrive in order)
        or ``timeout`` passes. Never raises: a realtime outage must not fail the poll that stored
        the data, and clients recover what they missed from the sequence numbers.
        """
        layer = get_channel_layer()
        if layer is None:
            return False
        kind: Any = None
        try:
            in_memory = isinstance(layer, InMemoryChannelLayer)
            if in_memory and not any(layer.groups.get(group) for group in groups):
                # Nobody in this process listens (a poller on its own): nothing to deliver, and
                # async_to_sync would start a thread and an event loop per message for nothing.
                return True
            message = event() if callable(event) else event
            kind = message.get("type")
            if in_memory:
                async_to_sync(_send_all)(layer, groups, message)
                return True
            future = asyncio.run_coroutine_threadsafe(_send_all(layer, groups, message), self._running_loop())
            try:
                future.result(timeout)
            except concurrent.futures.TimeoutError:
                future.cancel()
                logger.warning("realtime publish timed out after %.1fs (type=%s)", timeout, kind)
                return False
            finally:
                # A failed send's exception, kept by the future, has a traceback through this frame and its callers'
                # (the poll that stored the change, its document): holding the future here would close a cycle
                # keeping them until the collector's next pass, rare in a poller (devops_insights/collector.py).
                del future
        except Exception as exc:
            logger.warning("realtime publish failed (type=%s): %s", kind, type(exc).__name__)
            return False
        return True

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # After a fork the child has the parent's objects but not its threads: start anew.
            if self._loop is None or self._pid != os.getpid() or not (self._thread and self._thread.is_alive()):
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_run_forever, args=(loop,), name="realtime-layer-sender", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop thread; it closes the layer's connections as the loop closes."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = self._pid = None
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        # channels-redis hooks loop.close() to close the pools it opened on this loop.
        try:
            loop.close()
        except Exception:
            logger.debug("closing the layer sender's loop failed", exc_info=True)


async def _send_all(layer: BaseChannelLayer, groups: Sequence[str], event: dict[str, Any]) -> None:
    for group in groups:
        # A web process's LocalHub sits in several groups; "group" tells it which one this copy is for.
        await layer.group_send(group, {**event, "group": group})


layer_sender = LayerSender()
atexit.register(layer_sender.close)
