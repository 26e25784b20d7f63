"""Nothing unrecorded (issue 13): a real failure inside a poll reaches every place a failure is told.

The poller polls the simulator over real sockets and stores the document in the real store; a receiver
connected to the poller's own ``change_stored`` signal raises a real exception (a bug in a listener). The
poll must end as a failed poll of kind ``internal`` on the source's health fields, in its poll-failure log,
as a ``source_status`` event on a subscribed WebSocket, in the Prometheus counters, and in exactly one
error log line carrying the poll id, with no traceback at error level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

# Imported now, not at the first connection: building the ASGI application runs django.setup(), whose
# logging configuration would replace the handlers caplog installs for the test.
from devops_insights import asgi  # noqa: F401
from pollers.engine import Poller
from pollers.models import PollFailure, Source
from pollers.signals import change_stored
from tests.factories import make_poller, make_source
from tests.observability.support import scrape, value
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db(transaction=True)


class ListenerBug(Exception):
    """What the broken listener raises: a type of our own, so the test finds exactly its traces."""


@pytest.fixture
def poller(memory_layer: Any) -> Iterator[Poller]:
    poller = make_poller(failure_threshold=1000, cooldown=600)
    yield poller
    poller.fetcher.close()


@contextmanager
def broken_listener() -> Iterator[list[str]]:
    """A change_stored receiver that raises while the block runs; yields the poll ids it was called for."""
    calls: list[str] = []

    def broken(sender: Any, source: Source, poll_id: str, **kwargs: Any) -> None:
        calls.append(poll_id)
        raise ListenerBug("the listener cannot take this change")

    change_stored.connect(broken, dispatch_uid="test-poll-failures-broken")
    try:
        yield calls
    finally:
        change_stored.disconnect(dispatch_uid="test-poll-failures-broken")


async def test_it_records_announces_counts_and_logs_a_listener_bug_as_an_internal_failure(
    simulator: RunningSimulator,
    poller: Poller,
    connect: Callable[..., Any],
    session_cookie: tuple[bytes, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = await sync_to_async(make_source)("us-east", url=simulator.url("us-east"), timeout_seconds=2.0)
    first = await sync_to_async(poller.poll)(source)
    assert first.ok, first.error_message  # a healthy source, so the failure is a change of health

    browser = await connect([session_cookie])
    reply = await browser.request({"type": "subscribe", "sources": ["us-east"]})
    assert (reply["type"], reply["subscribed"]) == ("snapshot", ["us-east"])
    metrics_client = Client()
    before = await sync_to_async(scrape)(metrics_client)

    await sync_to_async(simulator.advance)(1)  # the next window's document differs: change_stored is sent
    caplog.set_level(logging.DEBUG)
    with broken_listener() as calls:
        outcome = await sync_to_async(poller.poll)(source)

    # The poll itself: stored (the listener was called for it), then failed as internal.
    assert calls == [outcome.poll_id]
    assert outcome.record is not None
    assert outcome.record.changed
    assert (outcome.ok, outcome.error_kind) == (False, "internal")
    assert "ListenerBug: the listener cannot take this change" in outcome.error_message

    # Health fields and the poll-failure log.
    await sync_to_async(source.refresh_from_db)()
    assert (source.last_error_kind, source.consecutive_failures) == ("internal", 1)
    assert "ListenerBug" in source.last_error_message
    failures = await sync_to_async(list)(PollFailure.objects.filter(source=source).values("kind", "poll_id"))
    assert failures == [{"kind": "internal", "poll_id": outcome.poll_id}]

    # The WebSocket: the stored change went out to the other listeners, then the health change.
    seen = [await browser.receive(), await browser.receive()]
    assert [message["type"] for message in seen] == ["update", "source_status"]
    status = seen[1]
    assert (status["source"], status["status"]) == ("us-east", "failing")
    assert (status["detail"]["error_kind"], status["detail"]["poll_id"]) == ("internal", outcome.poll_id)

    # Prometheus: one failed poll of kind internal, and the poll counted once.
    after = await sync_to_async(scrape)(metrics_client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("devops_insights_poll_errors_total", source="us-east", kind="internal") == 1
    assert moved("devops_insights_polls_total", source="us-east", outcome="failed") == 1
    assert moved("devops_insights_polls_total", source="us-east", outcome="changed") == 0

    # One error line with the poll id; the traceback only at debug level.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].name == "pollers.engine"
    assert outcome.poll_id in errors[0].getMessage()
    assert "ListenerBug: the listener cannot take this change" in errors[0].getMessage()
    assert errors[0].exc_info is None
    tracebacks = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ListenerBug]
    assert tracebacks
    assert all(r.levelno == logging.DEBUG for r in tracebacks)
