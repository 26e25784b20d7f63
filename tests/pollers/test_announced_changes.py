"""The poller announces through pollers.signals only: health changes, stored changes, then the completed poll."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.health_batch import HealthBatch
from pollers.models import Source
from pollers.signals import batch_flushed, change_stored, health_changed, poll_completed
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db

SIGNALS = {
    "health_changed": health_changed,
    "change_stored": change_stored,
    "poll_completed": poll_completed,
    "batch_flushed": batch_flushed,
}


@pytest.fixture
def heard() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every announcement, in order, as (signal name, keyword arguments)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    for name, signal in SIGNALS.items():

        def receiver(sender: Any, name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            seen.append((name, {"sender": sender, **kwargs}))

        signal.connect(receiver, weak=False, dispatch_uid=f"test-announced-{name}")
    yield seen
    for name, signal in SIGNALS.items():
        signal.disconnect(dispatch_uid=f"test-announced-{name}")


@pytest.fixture
def poller() -> Iterator[Poller]:
    # No cool-down: the poll after the circuit opens is its trial, so the test never waits on a clock.
    poller = Poller(
        fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0, backoff_base=0.01)),
        circuit_policy=CircuitPolicy(failure_threshold=2, cooldown=timedelta(0)),
    )
    yield poller
    poller.fetcher.close()


def names(heard: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in heard]


def test_it_announces_stored_changes_and_health_changes_with_their_documented_arguments(
    simulator: RunningSimulator, poller: Poller, heard: list[tuple[str, dict[str, Any]]]
) -> None:
    source = Source.objects.create(slug="us-east", name="US East", url=simulator.url("us-east"), timeout_seconds=1.0)

    first = poller.poll(source)
    assert names(heard) == ["change_stored", "poll_completed"]
    stored = heard[0][1]
    assert stored["sender"] is Source
    assert stored["source"] is source
    assert stored["record"] is first.record
    assert (stored["fetched_at"], stored["poll_id"]) == (first.started_at, first.poll_id)
    assert stored["batched"] is False  # no health batch: no batch_flushed will follow, receivers write now
    heard.clear()

    poller.poll(source)  # the same document: nothing stored, nothing to announce but the poll
    assert names(heard) == ["poll_completed"]
    heard.clear()

    simulator.set_fault("us-east", kind="error", status=502)
    failed = poller.poll(source)
    assert names(heard) == ["health_changed", "poll_completed"]
    change = heard[0][1]
    assert (change["source"], change["status"]) == (source, "failing")
    assert change["detail"] == {
        "error_kind": "http_502",
        "error_message": failed.error_message,
        "consecutive_failures": 1,
        "poll_id": failed.poll_id,
    }
    heard.clear()

    poller.poll(source)
    assert [(name, kwargs.get("status")) for name, kwargs in heard] == [
        ("health_changed", "circuit_open"),
        ("poll_completed", None),
    ]
    heard.clear()

    simulator.clear_faults()
    simulator.advance(1)
    poller.poll(source)
    assert names(heard) == ["health_changed", "change_stored", "poll_completed"]
    assert (heard[0][1]["status"], heard[0][1]["detail"]) == ("recovered", {"after_failures": 2})


def test_it_logs_a_broken_listener_and_keeps_the_stored_poll(
    simulator: RunningSimulator, poller: Poller, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("listener bug")

    source = Source.objects.create(slug="eu-west", name="EU West", url=simulator.url("eu-west"), timeout_seconds=1.0)
    change_stored.connect(broken, dispatch_uid="test-broken-listener")
    try:
        outcome = poller.poll(source)
    finally:
        change_stored.disconnect(dispatch_uid="test-broken-listener")
    # The document is stored and announced to the other listeners; the broken one's exception is not
    # swallowed (issue 13): the poll ends as a failed poll of kind internal, which names the receiver.
    assert (outcome.ok, outcome.error_kind) == (False, "internal")
    assert outcome.record is not None
    assert outcome.record.changed
    assert "change_stored receiver" in caplog.text
    assert "listener bug" in caplog.text
    assert "change_stored receiver" in outcome.error_message


def test_it_announces_each_flush_of_its_health_batch_after_the_changes_it_promised_it_to(
    simulator: RunningSimulator, poller: Poller, heard: list[tuple[str, dict[str, Any]]]
) -> None:
    assert poller.flush_health() == 0
    assert heard == []  # no batch, nothing flushed, nothing announced
    poller.health_batch = HealthBatch(max_rows=1000, max_age=3600)  # flushed when the test says so
    source = Source.objects.create(slug="us-east", name="US East", url=simulator.url("us-east"), timeout_seconds=1.0)

    poller.poll(source)
    assert names(heard) == ["change_stored", "poll_completed"]
    assert heard[0][1]["batched"] is True
    heard.clear()
    assert poller.flush_health(only_if_due=True) == 0  # not due yet: nothing written, nothing announced
    assert heard == []
    assert poller.flush_health() == 1
    assert heard == [("batch_flushed", {"sender": Source})]


@pytest.mark.django_db(transaction=True)  # the failed write ends its own transaction, not the test's
def test_it_announces_the_flush_even_when_writing_the_batch_failed(
    poller: Poller, heard: list[tuple[str, dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    poller.health_batch = HealthBatch(max_rows=1000, max_age=3600)
    source = Source.objects.create(slug="us-east", name="US East", url="http://127.0.0.1:9/", timeout_seconds=1.0)
    unwritable = {"last_polled_at": "not a time", "last_latency_ms": 1.0, "last_status_code": 200}
    poller.health_batch.add(source.pk, {**unwritable, "last_success_at": "not a time"})
    with caplog.at_level(logging.WARNING, logger="pollers.engine"):
        assert poller.flush_health() == 0
    assert "writing 1 batched health updates failed" in caplog.text
    assert names(heard) == ["batch_flushed"]


def test_it_logs_a_raising_batch_flushed_receiver_and_fails_no_poll_for_it(
    simulator: RunningSimulator,
    poller: Poller,
    heard: list[tuple[str, dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("flush listener bug")

    poller.health_batch = HealthBatch(max_rows=1, max_age=3600)  # full at once: the poll itself flushes it
    source = Source.objects.create(slug="eu-west", name="EU West", url=simulator.url("eu-west"), timeout_seconds=1.0)
    batch_flushed.connect(broken, dispatch_uid="test-broken-flush-listener")
    try:
        with caplog.at_level(logging.WARNING, logger="pollers.engine"):
            outcome = poller.poll(source)
            poller.flush_health()  # does not raise either
    finally:
        batch_flushed.disconnect(dispatch_uid="test-broken-flush-listener")
    assert (outcome.ok, outcome.error_kind) == (True, "")
    assert "batch_flushed" in names(heard)  # the other receivers still heard it
    warnings = [r.getMessage() for r in caplog.records if r.name == "pollers.engine"]
    assert [m for m in warnings if "batch_flushed" in m]
    assert all("RuntimeError: flush listener bug" in m for m in warnings if "batch_flushed" in m)
