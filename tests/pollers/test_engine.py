"""One poll end to end against the simulator: store, health, circuit, publishing, the signal."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from metrics.stores import get_store
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed
from tests.factories import make_poller, make_source
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed() -> Iterator[list[PollOutcome]]:
    seen: list[PollOutcome] = []

    def receiver(sender: Any, source: Source, outcome: PollOutcome, **kwargs: Any) -> None:
        seen.append(outcome)

    poll_completed.connect(receiver, dispatch_uid="test-engine")
    yield seen
    poll_completed.disconnect(dispatch_uid="test-engine")


def test_it_stores_a_good_poll_and_keeps_the_health_fields(
    simulator: RunningSimulator, us_east: Source, default_poller: Poller, completed: list[PollOutcome]
) -> None:
    first = default_poller.poll(us_east)
    assert first.ok, first.error_message
    assert first.record is not None
    assert first.record.changed
    latest = get_store().latest("us-east")
    assert latest is not None
    assert latest.hash == first.record.hash
    assert latest.poll_meta["poll_id"] == first.poll_id
    assert latest.poll_meta["status_code"] == 200
    assert latest.poll_meta["attempts"] == 1
    assert latest.metrics["cpu_load"] == first.payload["results"]["stats"]["server"]["cpu_load"]  # type: ignore[index]

    us_east.refresh_from_db()
    assert us_east.last_success_at is not None
    assert us_east.last_polled_at == us_east.last_success_at
    assert (us_east.consecutive_failures, us_east.circuit_state, us_east.last_status_code) == (0, "closed", 200)
    assert us_east.last_latency_ms is not None
    assert completed == [first]

    again = default_poller.poll(us_east)
    assert again.ok
    assert again.record is not None
    assert not again.record.changed  # same time window, same document
    simulator.advance(1)
    moved = default_poller.poll(us_east)
    assert moved.record is not None
    assert moved.record.changed
    assert moved.record.sequence == first.record.sequence + 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"kind": "not_json"}, "not_json"),
        ({"kind": "not_object"}, "not_object"),
        ({"kind": "truncated"}, "truncated"),
        ({"kind": "oversized", "size": 400000}, "too_large"),
        ({"kind": "drip", "interval": 0.05}, "slow_body"),
        ({"kind": "hang"}, "timeout"),
        ({"kind": "error", "status": 500}, "http_500"),
        ({"kind": "rate_limit", "retry_after": "60"}, "http_429"),
        ({"kind": "redirect", "location": "http://169.254.169.254/latest/meta-data/"}, "forbidden_address"),
    ],
)
def test_it_records_a_bad_upstream_as_a_failure_and_keeps_the_latest_snapshot(
    simulator: RunningSimulator, us_east: Source, default_poller: Poller, fault: dict[str, Any], kind: str
) -> None:
    good = default_poller.poll(us_east)
    assert good.ok
    before = get_store().latest("us-east")
    assert before is not None
    simulator.advance(1)  # the next good document would differ: any write would show
    simulator.set_fault("us-east", **fault)

    bad = default_poller.poll(us_east)
    assert (bad.ok, bad.error_kind, bad.record) == (False, kind, None)
    after = get_store().latest("us-east")
    assert after is not None
    assert (after.hash, after.sequence, after.poll_meta) == (before.hash, before.sequence, before.poll_meta)
    us_east.refresh_from_db()
    assert us_east.last_error_kind == kind
    assert us_east.last_error_message
    assert us_east.consecutive_failures == 1
    assert us_east.last_success_at is not None


def test_it_records_a_payload_the_store_refuses_as_a_failure(
    simulator: RunningSimulator, us_east: Source, default_poller: Poller, settings: Any
) -> None:
    good = default_poller.poll(us_east)
    assert good.ok
    before = get_store().latest("us-east")
    simulator.advance(1)
    settings.METRICS_MAX_PAYLOAD_BYTES = 1024  # smaller than any status document
    refused = default_poller.poll(us_east)
    assert (refused.ok, refused.error_kind) == (False, "bad_payload")
    assert "1024" in refused.error_message
    assert get_store().latest("us-east") == before
    us_east.refresh_from_db()
    assert us_east.last_error_kind == "bad_payload"


def test_it_reports_a_source_deleted_while_it_was_due(us_east: Source, default_poller: Poller) -> None:
    Source.objects.filter(pk=us_east.pk).delete()
    outcome = default_poller.poll(us_east)
    assert (outcome.ok, outcome.skipped, outcome.error_kind) == (False, True, "deleted")


def test_it_opens_the_circuit_then_sends_one_trial_after_the_cooldown(
    simulator: RunningSimulator, us_east: Source, default_poller: Poller, completed: list[PollOutcome]
) -> None:
    simulator.set_fault("us-east", kind="error", status=503)
    assert not default_poller.poll(us_east).ok
    assert not default_poller.poll(us_east).ok
    us_east.refresh_from_db()
    assert (us_east.circuit_state, us_east.consecutive_failures) == ("open", 2)
    assert us_east.circuit_opened_at is not None

    requests_before = len(simulator.requests_for("us-east"))
    skipped = default_poller.poll(us_east)
    assert (skipped.ok, skipped.skipped, skipped.error_kind) == (False, True, "circuit_open")
    assert len(simulator.requests_for("us-east")) == requests_before  # no request while open
    assert completed[-1] is skipped

    time.sleep(1.05)
    trial = default_poller.poll(us_east)  # the trial fails: open again, cool-down restarts
    assert not trial.ok
    assert len(simulator.requests_for("us-east")) == requests_before + 1
    us_east.refresh_from_db()
    assert us_east.circuit_state == "open"
    assert default_poller.poll(us_east).skipped

    simulator.clear_faults()
    time.sleep(1.05)
    assert default_poller.poll(us_east).ok
    us_east.refresh_from_db()
    assert (us_east.circuit_state, us_east.consecutive_failures, us_east.circuit_opened_at) == ("closed", 0, None)


def test_it_publishes_changes_and_status_transitions(
    redis_settings: Any, simulator: RunningSimulator, us_east: Source, default_poller: Poller
) -> None:
    layer = get_channel_layer()
    assert layer is not None
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("metrics.us-east", channel)

    def next_event() -> dict[str, Any]:
        return async_to_sync(layer.receive)(channel)  # type: ignore[no-any-return]

    ok = default_poller.poll(us_east)
    update = next_event()
    assert (update["type"], update["source"], update["poll_id"]) == ("metric.update", "us-east", ok.poll_id)
    assert update["hash"] == ok.record.hash  # type: ignore[union-attr]

    default_poller.poll(us_east)  # unchanged: nothing published
    simulator.set_fault("us-east", kind="error", status=502)
    default_poller.poll(us_east)
    failing = next_event()
    assert (failing["type"], failing["status"]) == ("source.status", "failing")
    assert failing["detail"]["error_kind"] == "http_502"
    default_poller.poll(us_east)
    assert next_event()["status"] == "circuit_open"

    simulator.clear_faults()
    time.sleep(1.05)
    simulator.advance(1)
    default_poller.poll(us_east)
    events = [next_event(), next_event()]
    assert {e["type"] for e in events} == {"source.status", "metric.update"}
    assert next(e for e in events if e["type"] == "source.status")["status"] == "recovered"


def test_it_survives_a_failing_signal_receiver(
    us_east: Source, default_poller: Poller, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    poll_completed.connect(broken, dispatch_uid="broken")
    try:
        outcome = default_poller.poll(us_east)
    finally:
        poll_completed.disconnect(dispatch_uid="broken")
    # The poll survives (returns, its document stored) but a receiver's bug is not swallowed (issue 13):
    # the poll ends as a failed poll of kind internal, logged once, without the traceback.
    assert get_store().latest(us_east.slug) is not None
    assert (outcome.ok, outcome.error_kind) == (False, "internal")
    assert "RuntimeError: receiver bug" in outcome.error_message
    [line] = [r for r in caplog.records if "receiver bug" in r.getMessage() and r.levelno >= logging.ERROR]
    assert line.name == "pollers.engine"
    assert outcome.poll_id in line.getMessage()
    assert line.exc_info is None


def test_it_never_logs_header_values(
    simulator: RunningSimulator, default_poller: Poller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = make_source(
        "secretive",
        url=simulator.url("eu-west", "stats=1&fault=error&status=401"),
        headers={"Authorization": "Bearer very-secret-value", "X-Trace": "plain"},
    )
    outcome = default_poller.poll(source)
    assert outcome.error_kind == "http_401"
    assert outcome.poll_id in caplog.text  # logged, with its poll id
    assert "very-secret-value" not in caplog.text
    source.refresh_from_db()
    assert "very-secret-value" not in source.last_error_message


def test_it_stores_nothing_on_a_dry_run(simulator: RunningSimulator, us_east: Source) -> None:
    poller = Poller(fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",))), dry_run=True)
    outcome = poller.poll(us_east)
    assert outcome.ok
    assert outcome.payload is not None
    assert outcome.record is None
    assert get_store().latest("us-east") is None
    us_east.refresh_from_db()
    assert us_east.last_polled_at is None


def test_it_skips_a_poll_whose_request_slot_a_shutdown_ended(simulator: RunningSimulator) -> None:
    # At shutdown the fetcher's stop ends every wait, the rate limiter's too: that poll sent no request,
    # so it must not be recorded as the upstream's failure (a failure count, a failure log row, a down sample).
    from pollers.models import PollFailure
    from pollers.ratelimit import LocalRateLimiter

    source = make_source("us-east", url=simulator.url("us-east"))
    limiter = LocalRateLimiter(rate=0.001, burst=1)
    assert limiter.try_acquire("127.0.0.1") <= 0  # the one token spent: the next request would wait ~17 min
    poller = make_poller()
    poller.fetcher.rate_limiter = limiter
    heard: list[PollOutcome] = []

    def completed(sender: Any, outcome: PollOutcome, **kwargs: Any) -> None:
        heard.append(outcome)

    poll_completed.connect(completed)
    try:
        poller.fetcher.stop.set()  # as the loop's shutdown does
        outcome = poller.poll(source)
    finally:
        poll_completed.disconnect(completed)
        poller.fetcher.close()
    assert (outcome.ok, outcome.skipped, outcome.error_kind, outcome.attempts) == (False, True, "stopped", 0)
    assert simulator.requests_for("us-east") == []
    row = Source.objects.get(pk=source.pk)
    assert (row.consecutive_failures, row.last_error_at, row.last_polled_at) == (0, None, None)
    assert not PollFailure.objects.exists()
    assert heard == []  # not counted as a poll by alerting and availability either
