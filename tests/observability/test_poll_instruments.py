"""A real poll is traceable end to end: one poll id and one "poll" span over its store write and publish."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from observability.context import current_poll_id
from pollers.leases import RedisLeases
from pollers.loop import PollerLoop
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed
from tests.factories import make_poller, make_source
from tests.simulator import RunningSimulator


def add_source(simulator: RunningSimulator, slug: str = "us-east", interval: int = 1) -> Source:
    return make_source(slug, url=simulator.url(slug), interval_seconds=interval, timeout_seconds=1.0)


@pytest.mark.django_db
def test_it_nests_the_store_write_and_the_publish_under_the_poll_span(
    simulator: RunningSimulator, spans: InMemorySpanExporter
) -> None:
    outcome = make_poller(failure_threshold=100, cooldown=60).poll(add_source(simulator))
    assert outcome.ok
    assert outcome.record is not None
    assert outcome.record.changed
    finished = spans.get_finished_spans()
    (poll,) = [s for s in finished if s.name == "poll"]
    assert poll.attributes is not None
    assert poll.attributes["poll_id"] == outcome.poll_id
    assert poll.attributes["source"] == "us-east"
    children = {s.name for s in finished if s.parent is not None and s.parent.span_id == poll.context.span_id}
    assert {"store.record", "publish"} <= children, sorted(s.name for s in finished)


@pytest.mark.django_db
def test_it_binds_the_poll_id_while_receivers_of_the_poll_run(simulator: RunningSimulator) -> None:
    seen: list[tuple[str | None, str]] = []

    def receiver(sender: Any, source: Source, outcome: PollOutcome, **kwargs: Any) -> None:
        seen.append((current_poll_id(), outcome.poll_id))

    poll_completed.connect(receiver, dispatch_uid="test-poll-id-bound")
    try:
        make_poller(failure_threshold=100, cooldown=60).poll(add_source(simulator))
    finally:
        poll_completed.disconnect(dispatch_uid="test-poll-id-bound")
    ((bound, poll_id),) = seen
    assert bound == poll_id
    assert current_poll_id() is None  # unbound again after the poll


def claims(result: str) -> float:
    return REGISTRY.get_sample_value("devops_insights_lease_claims_total", {"result": result}) or 0.0


@pytest.mark.django_db(transaction=True)
def test_it_counts_won_and_contended_lease_claims(simulator: RunningSimulator, redis_client: Any) -> None:
    add_source(simulator)
    acquired, contended = claims("acquired"), claims("contended")
    loops = [
        PollerLoop(
            make_poller(failure_threshold=100, cooldown=60),
            RedisLeases(redis_client, prefix="t:claims"),
            concurrency=2,
            jitter_fraction=0.0,
            heartbeat_seconds=0.5,
            reload_seconds=0.5,
            progress_seconds=60,
            write=lambda line: None,
        )
        for _ in range(2)
    ]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    time.sleep(3.2)
    for loop in loops:
        loop.shutdown = True
    for thread in threads:
        thread.join(15)
    polls = len(simulator.requests_for("us-east"))
    assert polls >= 2
    # Each poll was one won claim; the other loop lost its claim on the same slot.
    assert claims("acquired") - acquired == polls
    assert claims("contended") - contended >= 1
