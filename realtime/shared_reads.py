"""Reads shared by the lookups that ask for the same key at once, each answered by a read that started after it asked.

During a reconnect storm hundreds of handshakes and subscribes ask for the same things at once (the
access generation, the snapshot of the same sources). Per key, one read at a time runs; the lookups
that ask meanwhile wait for the next one, which starts when the running one ends and answers them
all. The reads (each a worker-thread hop and Redis round trips) then stay few under load, and no
lookup gets a value older than its own start, so a change made before a lookup began is always seen
by it: exactly what each caller had with a read of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Running(Generic[V]):
    task: asyncio.Task[None] | None = None
    waiting: asyncio.Future[V] | None = None  # the lookups that asked after the running read began


class SharedReads(Generic[K, V]):
    def __init__(self, fetch: Callable[[K], Awaitable[V]]) -> None:
        self.fetch = fetch
        self.loop: asyncio.AbstractEventLoop | None = None
        self.running: dict[K, _Running[V]] = {}
        self.reads = 0  # tests count them

    async def read(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # another event loop (tests): nothing in flight is for this one
            self.loop, self.running = loop, {}
        running = self.running.get(key)
        if running is not None:
            if running.waiting is None:
                running.waiting = loop.create_future()
            future = running.waiting
        else:
            running = self.running[key] = _Running()
            future = loop.create_future()
            running.task = loop.create_task(self._run(key, running, future))
        try:
            # Shielded: a lookup that gives up (its connection closed) does not cancel the others' read.
            return await asyncio.shield(future)
        finally:
            # A failed read's exception, kept by the future, has a traceback through this frame and its callers'
            # (a subscribe's snapshots read so far): holding the future here would close a cycle keeping all of
            # them until the collector's next pass, rare in a web process (devops_insights/collector.py).
            del future

    async def _run(self, key: K, running: _Running[V], future: asyncio.Future[V]) -> None:
        next_future: asyncio.Future[V] | None = future
        # Only ``next_future`` refers to the future in hand, and it moves on once the future is answered: a failed
        # read's traceback holds this frame (see read()).
        del future
        try:
            while next_future is not None:
                self.reads += 1
                try:
                    value = await self.fetch(key)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    next_future.set_exception(exc)
                else:
                    next_future.set_result(value)
                next_future, running.waiting = running.waiting, None
        finally:
            for pending in (next_future, running.waiting):
                if pending is not None and not pending.done():
                    pending.cancel()
            if self.running.get(key) is running:
                del self.running[key]
