"""The admission queue in front of Django (devops_insights/admission.py): how many requests run at once, who
waits, who is answered 503, when a slot is given back, and which requests never queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devops_insights.admission import EXEMPT_PATHS, AdmissionQueue
from devops_insights.db_errors import BUSY_RETRY_AFTER_SECONDS
from devops_insights.request_slots import FALLBACK_LIMIT, limit_for
from observability.instruments import HTTP_REQUESTS_QUEUED, HTTP_REQUESTS_SHED


class GatedApp:
    """An ASGI app whose requests run until the test opens their gate; it records how many ran at once."""

    def __init__(self, *, stream: bool = False) -> None:
        self.running = 0
        self.most = 0
        self.started: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.stream = stream

    def gate(self, path: str) -> asyncio.Event:
        return self.gates.setdefault(path, asyncio.Event())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        self.started.append(scope["path"])
        try:
            if self.stream:  # the response starts at once; the body waits for the gate
                await send({"type": "http.response.start", "status": 200, "headers": []})
            await self.gate(scope["path"]).wait()
            if scope["path"].endswith("/raise"):
                raise RuntimeError("the view failed")
            if not self.stream:
                await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok", "more_body": False})
        finally:
            self.running -= 1


class Answer:
    """What the queue sent for one request."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        return next((m["status"] for m in self.messages if m["type"] == "http.response.start"), None)

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return {name.decode().lower(): value.decode() for name, value in start["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def request(queue: AdmissionQueue, path: str, kind: str = "http") -> tuple[asyncio.Task[None], Answer]:
    answer = Answer()
    scope = {"type": kind, "path": path, "method": "GET", "headers": []}
    return asyncio.create_task(queue(scope, receive, answer.send)), answer


async def settle() -> None:
    """Let every task that can run do so (each step below is a handful of awaits)."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
async def full() -> AsyncIterator[tuple[GatedApp, AdmissionQueue]]:
    """A queue of one slot and a 0.05 s wait, the slot taken by a request that runs until the test ends."""
    app = GatedApp()
    queue = AdmissionQueue(app, limit=1, timeout=0.05)
    holder, _ = request(queue, "/page/held")
    await settle()
    yield app, queue
    app.gate("/page/held").set()
    await holder


async def test_it_runs_at_most_the_limit_at_once_and_the_rest_in_arrival_order() -> None:
    app = GatedApp()
    queue = AdmissionQueue(app, limit=2, timeout=30)
    tasks = [request(queue, f"/page/{n}")[0] for n in range(5)]
    await settle()
    assert app.started == ["/page/0", "/page/1"]

    app.gate("/page/1").set()
    await settle()
    assert app.started == ["/page/0", "/page/1", "/page/2"]
    assert app.running == 2

    for n in (0, 2, 3, 4):
        app.gate(f"/page/{n}").set()
    await asyncio.gather(*tasks)
    assert app.started == [f"/page/{n}" for n in range(5)]
    assert app.most == 2


async def test_it_counts_the_requests_waiting_for_a_slot() -> None:
    app = GatedApp()
    queue = AdmissionQueue(app, limit=1, timeout=30)
    before = HTTP_REQUESTS_QUEUED._value.get()
    tasks = [request(queue, f"/page/{n}")[0] for n in range(3)]
    await settle()
    assert HTTP_REQUESTS_QUEUED._value.get() - before == 2

    for n in range(3):
        app.gate(f"/page/{n}").set()
    await asyncio.gather(*tasks)
    assert HTTP_REQUESTS_QUEUED._value.get() == before


Full = tuple[GatedApp, AdmissionQueue]


async def test_it_answers_a_page_that_waited_too_long_with_a_503_page_and_retry_after(full: Full) -> None:
    app, queue = full
    shed_before = HTTP_REQUESTS_SHED._value.get()

    waiter, answer = request(queue, "/sources/eu-west/changes/")
    await waiter

    assert answer.status == 503
    assert answer.headers["retry-after"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert "no-store" in answer.headers["cache-control"]
    assert answer.headers["content-type"].startswith("text/html")
    assert b"busy" in answer.body
    assert "/sources/eu-west/changes/" not in app.started  # the view never ran
    assert HTTP_REQUESTS_SHED._value.get() - shed_before == 1


async def test_it_answers_an_api_request_that_waited_too_long_in_the_api_error_shape(full: Full) -> None:
    _, queue = full

    waiter, answer = request(queue, "/api/v1/metrics")
    await waiter

    assert answer.status == 503
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["retry-after"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert json.loads(answer.body)["error"]["code"] == "busy"


async def test_it_gives_a_slot_back_when_the_response_starts_not_when_a_streamed_body_ends() -> None:
    app = GatedApp(stream=True)
    queue = AdmissionQueue(app, limit=1, timeout=30)
    export, export_answer = request(queue, "/api/v1/export")
    await settle()
    assert export_answer.status == 200  # started; its body still streams

    page, _ = request(queue, "/page/next")
    await settle()
    assert app.started == ["/api/v1/export", "/page/next"]

    app.gate("/api/v1/export").set()
    app.gate("/page/next").set()
    await asyncio.gather(export, page)


async def test_it_gives_the_slot_back_when_the_app_raises() -> None:
    app = GatedApp()
    queue = AdmissionQueue(app, limit=1, timeout=30)
    failing, _ = request(queue, "/page/raise")
    after, _ = request(queue, "/page/after")
    await settle()
    assert app.started == ["/page/raise"]

    app.gate("/page/raise").set()
    with pytest.raises(RuntimeError):
        await failing
    await settle()
    assert app.started == ["/page/raise", "/page/after"]
    app.gate("/page/after").set()
    await after


async def test_it_gives_the_slot_of_a_cancelled_request_back() -> None:
    app = GatedApp()
    queue = AdmissionQueue(app, limit=1, timeout=30)
    gone, _ = request(queue, "/page/gone")  # the client went away; the server cancels its task
    waiting, _ = request(queue, "/page/waiting")
    await settle()

    gone.cancel()
    await settle()
    assert app.started == ["/page/gone", "/page/waiting"]
    app.gate("/page/waiting").set()
    await waiting


@pytest.mark.parametrize("path", sorted(EXEMPT_PATHS))
async def test_it_never_queues_the_probes(path: str, full: Full) -> None:
    app, queue = full

    app.gate(path).set()
    probe, answer = request(queue, path)
    await probe
    assert answer.status == 200


async def test_it_lets_websockets_through_without_a_slot(full: Full) -> None:
    app, queue = full

    socket, _ = request(queue, "/ws/metrics/", kind="websocket")
    await settle()
    assert app.started == ["/page/held", "/ws/metrics/"]
    app.gate("/ws/metrics/").set()
    await socket


def test_it_sizes_the_queue_to_the_database_pool() -> None:
    assert limit_for(0, {"ENGINE": "devops_insights.postgresql", "OPTIONS": {"pool": {"max_size": 7}}}) == 7


def test_it_falls_back_without_a_pool_and_obeys_the_setting() -> None:
    sqlite = {"ENGINE": "devops_insights.sqlite3", "OPTIONS": {"timeout": 20}}
    assert limit_for(0, sqlite) == FALLBACK_LIMIT
    assert limit_for(0, {"ENGINE": "devops_insights.postgresql"}) == FALLBACK_LIMIT  # DATABASE_POOL_MAX_SIZE=0
    assert limit_for(3, sqlite) == 3
    assert limit_for(3, {"OPTIONS": {"pool": {"max_size": 7}}}) == 3


def test_it_takes_its_limit_and_wait_from_the_settings(settings: Any) -> None:
    settings.WEB_MAX_CONCURRENT_REQUESTS = 5
    settings.WEB_QUEUE_TIMEOUT = 12.5
    queue = AdmissionQueue(GatedApp())
    assert (queue.limit, queue.timeout) == (5, 12.5)


def test_it_wraps_django_in_the_asgi_application() -> None:
    from devops_insights.asgi import application

    found: list[object] = []

    def walk(app: object, depth: int = 0) -> None:
        if isinstance(app, AdmissionQueue):
            found.append(app)
            return
        if depth > 8:
            return
        for name in ("app", "application", "inner"):
            inner = getattr(app, name, None)
            if inner is not None:
                walk(inner, depth + 1)
        routes = getattr(app, "application_mapping", None)
        if isinstance(routes, dict) and "http" in routes:
            walk(routes["http"], depth + 1)

    walk(application)
    assert len(found) == 1
