"""The poller counts every poll's outcome for availability, before it announces the poll."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metrics.availability import latency_bin
from metrics.stores import get_store
from metrics.stores.base import AvailabilityBucket, AvailabilitySpan
from metrics.stores.mongo import MongoMetricStore
from pollers.availability import sample_for
from pollers.engine import Poller
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed
from tests import services
from tests.factories import make_poller
from tests.mongo_store import client_for
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def poller_with(**options: Any) -> Poller:
    """The factory's poller with a long cooldown (once open, the circuit skips every later poll of the
    test) and ``options`` of the Poller itself (store, dry_run)."""
    made = make_poller(cooldown=600)
    return Poller(fetcher=made.fetcher, circuit_policy=made.circuit_policy, **options)


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = poller_with()
    yield poller
    poller.fetcher.close()


def counted(slug: str = "us-east") -> AvailabilityBucket | None:
    """Every poll the day tier counted for ``slug`` in this test, merged: the latest day bucket alone held only
    the polls after midnight when a test's polls fell either side of it."""
    now = datetime.now(UTC)
    [merged] = get_store().availability_totals(
        slug, [AvailabilitySpan("1d", now - timedelta(days=2), now + timedelta(minutes=1))]
    )
    return merged if merged.polls else None


def test_it_counts_every_poll_before_poll_completed_is_sent(
    simulator: RunningSimulator, us_east: Source, poller: Poller
) -> None:
    seen_by_receivers: list[int] = []

    def receiver(sender: Any, source: Source, outcome: PollOutcome, **kwargs: Any) -> None:
        bucket = counted()
        seen_by_receivers.append(0 if bucket is None else bucket.polls)

    poll_completed.connect(receiver, dispatch_uid="test-availability")
    try:
        good = poller.poll(us_east)
        simulator.set_fault("us-east", kind="error", status=503)
        bad = poller.poll(us_east)
    finally:
        poll_completed.disconnect(dispatch_uid="test-availability")
    assert (good.ok, bad.ok) == (True, False)
    assert seen_by_receivers == [1, 2]
    assert good.latency_ms is not None
    # The good poll's minute alone: a second from it reached into the next minute when it began at :59.
    good_minute = good.started_at.replace(second=0, microsecond=0)
    [minute] = get_store().availability("us-east", "1m", good_minute, good_minute + timedelta(minutes=1))
    assert minute.latency.get(latency_bin(good.latency_ms), 0) >= 1
    bucket = counted()
    assert bucket is not None
    assert (bucket.polls, bucket.up, dict(bucket.errors)) == (2, 1, {"http_503": 1})


def test_it_counts_a_poll_skipped_by_the_open_circuit_as_down(
    simulator: RunningSimulator, us_east: Source, poller: Poller
) -> None:
    simulator.set_fault("us-east", kind="error", status=503)
    outcomes = [poller.poll(us_east) for _ in range(3)]
    assert [o.error_kind for o in outcomes] == ["http_503", "http_503", "circuit_open"]
    bucket = counted()
    assert bucket is not None
    assert (bucket.polls, bucket.up, dict(bucket.errors)) == (3, 0, {"circuit_open": 1, "http_503": 2})


def test_it_counts_nothing_on_a_dry_run_or_for_a_deleted_source(simulator: RunningSimulator, us_east: Source) -> None:
    dry = poller_with(dry_run=True)
    assert dry.poll(us_east).ok
    dry.fetcher.close()
    assert counted() is None
    poller = poller_with()
    Source.objects.filter(pk=us_east.pk).delete()
    assert poller.poll(us_east).error_kind == "deleted"
    poller.fetcher.close()
    assert counted() is None


def test_it_keeps_polling_when_counting_fails(
    simulator: RunningSimulator, us_east: Source, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(
        f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true", serverSelectionTimeoutMS=200
    )
    poller = poller_with(store=MongoMetricStore(client, "unreachable"))
    try:
        with caplog.at_level(logging.WARNING, logger="pollers.availability"):
            outcome = poller.poll(us_east)
    finally:
        poller.fetcher.close()
        client.close()
    assert (outcome.ok, outcome.error_kind) == (False, "store_error")
    assert "counting its availability failed: StoreError" in caplog.text


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (dict(ok=True, latency_ms=12.5), (True, 12.5, "")),
        # Our store failing says nothing about the upstream, which answered.
        (dict(ok=False, latency_ms=40.0, error_kind="store_error"), (True, 40.0, "")),
        (dict(ok=False, latency_ms=900.0, error_kind="bad_payload"), (False, 900.0, "bad_payload")),
        (dict(ok=False, skipped=True, error_kind="circuit_open"), (False, None, "circuit_open")),
        (dict(ok=False, error_kind="Weird.Kind"), (False, None, "weird_kind")),
    ],
)
def test_it_classifies_outcomes_as_up_or_down(outcome: dict[str, Any], expected: tuple[Any, ...]) -> None:
    sample = sample_for(PollOutcome(source="us-east", poll_id="p", started_at=NOW, **outcome))
    assert sample is not None
    assert (sample.up, sample.latency_ms, sample.error_kind) == expected
    assert sample_for(PollOutcome("us-east", "p", NOW, ok=False, skipped=True, error_kind="deleted")) is None
