"""Blocking cache reads on the event loop's worker threads, outside any connection's context."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_worker(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the loop's default executor, in the worker thread's own context.

    Not ``sync_to_async(thread_sensitive=False)`` nor ``asyncio.to_thread``: both run ``fn`` in a copy
    of the calling task's context, and Django's cache handler keeps one client per context, so each
    WebSocket connection built a Redis cache client of its own on its first read (about 30 objects the
    collector tracks, per connection, and their construction). In a worker's own context the few
    worker threads' clients are reused. For reads that touch no database (the ORM's connections are
    for ``database_sync_to_async``).
    """
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))
