"""At most ``WEB_MAX_CONCURRENT_REQUESTS`` HTTP requests run in Django at once; the rest wait in the event loop.

Why: under ASGI Django runs each request's sync code in a thread of its own, so a web process starts as
many threads as it has requests in flight. With 200 concurrent clients and a pool of 8 database
connections, 200 threads asked the pool at once; each page then held its connection through the CPU
work of rendering it (the GIL shared by every thread), the queue at the pool grew past
``DATABASE_POOL_TIMEOUT``, and pages answered ``PoolTimeout`` (bench/load.py, history page: 161 of 701
answers 5xx). Here a request first waits for a slot, as a coroutine that costs neither a thread nor a
connection, so the threads that do run are never more than the connections they can borrow and no
request waits at the pool. The order is first come, first served.

- The limit defaults to the database pool's ``max_size`` (PostgreSQL with ``DATABASE_POOL_MAX_SIZE`` > 0),
  else ``FALLBACK_LIMIT``; ``WEB_MAX_CONCURRENT_REQUESTS`` sets it (``devops_insights.request_slots``, the one home
  of that number).
- A request that waited ``WEB_QUEUE_TIMEOUT`` seconds without a slot is answered 503 with ``Retry-After``
  (devops_insights/busy.py) instead of waiting on: overload is shed with an honest answer.
- A slot is given back when the response starts (``http.response.start``) or the app returns: a
  streamed export's body does not keep others out (it still borrows its connection from the pool).
- The liveness and readiness probes (``EXEMPT_PATHS``) never wait: a busy process is alive, and a probe
  that queued behind pages would have it restarted.
- WebSockets are not requests here: each is a coroutine, its database calls short loans from the pool.

Waiting and shed requests are counted for Prometheus (observability/instruments.py).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from django.conf import settings

from devops_insights.busy import busy_response
from devops_insights.request_slots import request_slots
from observability.instruments import HTTP_REQUESTS_QUEUED, HTTP_REQUESTS_SHED

log = logging.getLogger("devops_insights.admission")

EXEMPT_PATHS = frozenset({"/api/v1/health", "/api/v1/ready"})


class AdmissionQueue:
    """ASGI middleware for the HTTP scope: a first-come, first-served queue in front of ``app``."""

    def __init__(self, app: Any, *, limit: int | None = None, timeout: float | None = None) -> None:
        self.app = app
        if limit is None:
            limit = request_slots()
        self.limit = limit
        self.timeout = float(settings.WEB_QUEUE_TIMEOUT) if timeout is None else timeout
        # One semaphore per event loop: an asyncio primitive belongs to the loop that first waits on it
        # (daphne runs one loop; tests run several, one after another).
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        found = self._slots.get(loop)
        if found is None:
            found = self._slots[loop] = asyncio.Semaphore(self.limit)
        return found

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        slots = self._semaphore()
        HTTP_REQUESTS_QUEUED.inc()
        try:
            async with asyncio.timeout(self.timeout):
                await slots.acquire()
        except TimeoutError:
            HTTP_REQUESTS_SHED.inc()
            log.warning("%s %s: no slot free within %g s; answered 503", scope["method"], scope["path"], self.timeout)
            await _send_busy(scope["path"], send)
            return
        finally:
            HTTP_REQUESTS_QUEUED.dec()

        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        async def send_and_free(message: Any) -> None:
            if message["type"] == "http.response.start":
                give_back()
            await send(message)

        try:
            await self.app(scope, receive, send_and_free)
        finally:
            give_back()


async def _send_busy(path: str, send: ASGISendCallable) -> None:
    response = busy_response(path, "Too many requests are in progress")
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers, "trailers": False})
    await send({"type": "http.response.body", "body": response.content, "more_body": False})
