"""The bounded log of failed polls per source: written by the poll engine, trimmed, secret-free."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from pollers.engine import Poller
from pollers.models import MASK, PollFailure, Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed
from tests.factories import make_poller, make_source
from tests.run_manage import assert_one_line_error, run_manage
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def poller() -> Iterator[Poller]:
    # A high threshold: the circuit stays closed, so every poll reaches the upstream.
    poller = make_poller(failure_threshold=1000, cooldown=600)
    yield poller
    poller.fetcher.close()


def simulated_source(simulator: RunningSimulator, query: str = "stats=1", **fields: Any) -> Source:
    """us-east on the simulator, answering as ``query`` asks (a fault, a status)."""
    return make_source("us-east", url=simulator.url("us-east", query), timeout_seconds=1.0, **fields)


@pytest.mark.parametrize(
    ("query", "kind", "status"),
    [
        ("stats=1&fault=error&status=500", "http_500", 500),
        ("stats=1&fault=error&status=404", "http_404", 404),
        ("stats=1&fault=not_json", "not_json", 200),
        ("stats=1&fault=truncated", "truncated", 200),
    ],
)
def test_it_records_a_failed_poll_with_its_kind(
    simulator: RunningSimulator, poller: Poller, query: str, kind: str, status: int
) -> None:
    source = simulated_source(simulator, query)
    outcome = poller.poll(source)
    assert (outcome.ok, outcome.error_kind) == (False, kind)

    [failure] = PollFailure.objects.filter(source=source)
    assert failure.kind == kind
    assert failure.status_code == status
    assert failure.poll_id == outcome.poll_id
    assert failure.message == outcome.error_message[:500]
    assert failure.message
    assert failure.latency_ms is not None
    assert failure.latency_ms >= 0
    source.refresh_from_db()
    assert failure.occurred_at == source.last_error_at


def test_it_records_nothing_for_a_good_poll_and_keeps_the_log_after_recovery(
    simulator: RunningSimulator, poller: Poller
) -> None:
    source = simulated_source(simulator)
    assert poller.poll(source).ok
    assert not PollFailure.objects.exists()

    simulator.set_fault("us-east", kind="error", status=503, times=1)
    failed = poller.poll(source)
    assert failed.error_kind == "http_503"
    assert poller.poll(source).ok
    # Recovery clears the consecutive count, not the history the drill-down shows.
    assert list(PollFailure.objects.values_list("kind", flat=True)) == ["http_503"]


def test_it_keeps_only_the_newest_n_per_source(simulator: RunningSimulator, poller: Poller, settings: Any) -> None:
    settings.POLLER_FAILURE_HISTORY = 3
    source = simulated_source(simulator, "stats=1&fault=error&status=500")
    other = make_source("eu-west", url=simulator.url("eu-west", "stats=1&fault=not_json"), timeout_seconds=1.0)
    assert not poller.poll(other).ok  # another source's log is not trimmed by this one's

    poll_ids = [poller.poll(source).poll_id for _ in range(5)]

    kept = PollFailure.objects.recent_for(source)
    assert [f.poll_id for f in kept] == list(reversed(poll_ids[-3:]))  # newest first
    assert PollFailure.objects.filter(source=source).count() == 3
    assert PollFailure.objects.filter(source=other).count() == 1


def test_it_trims_ties_on_time_by_insertion_order() -> None:
    source = make_source("s", url="https://status.example.com/")
    at = timezone.now()
    for n in range(4):
        PollFailure.record(source, occurred_at=at, kind="timeout", message=f"m{n}", poll_id=f"p{n}", keep=2)
    assert [f.poll_id for f in PollFailure.objects.recent_for(source, 10)] == ["p3", "p2"]


def test_it_records_no_failure_for_a_circuit_open_skip(simulator: RunningSimulator) -> None:
    poller = make_poller(failure_threshold=1, cooldown=600)
    try:
        source = simulated_source(simulator, "stats=1&fault=error&status=502")
        assert poller.poll(source).error_kind == "http_502"
        skipped = poller.poll(source)
        assert (skipped.skipped, skipped.error_kind) == (True, "circuit_open")
    finally:
        poller.fetcher.close()
    assert list(PollFailure.objects.values_list("kind", flat=True)) == ["http_502"]


def test_it_never_stores_a_secret_header_value_or_query_string(simulator: RunningSimulator, poller: Poller) -> None:
    source = simulated_source(
        simulator,
        "stats=1&token=query-secret-xyz&fault=error&status=401",
        headers={"Authorization": "Bearer very-secret-value", "X-Api-Key": "key-secret-123", "X-Trace": "plain"},
    )
    outcome = poller.poll(source)
    assert outcome.error_kind == "http_401"
    [failure] = PollFailure.objects.all()
    stored = " ".join(str(v) for v in PollFailure.objects.values().get().values())
    for secret in ("very-secret-value", "key-secret-123", "query-secret-xyz"):
        assert secret not in stored
    assert failure.kind == "http_401"


def test_it_masks_a_credential_header_value_that_reached_a_message() -> None:
    # The fetcher keeps header values out of messages; the log masks them anyway, should one slip in.
    source = make_source("s", url="https://status.example.com/", headers={"Authorization": "Bearer leaked-42"})
    failure = PollFailure.record(
        source, occurred_at=timezone.now(), kind="connect", message="refused while sending Bearer leaked-42"
    )
    failure.refresh_from_db()
    assert "leaked-42" not in failure.message
    assert failure.message == f"refused while sending {MASK}"


def test_it_never_fails_the_poll_when_the_log_cannot_be_written(
    simulator: RunningSimulator, poller: Poller, caplog: pytest.LogCaptureFixture
) -> None:
    source = simulated_source(simulator, "stats=1&fault=error&status=500")
    seen: list[PollOutcome] = []

    def receiver(sender: Any, source: Source, outcome: PollOutcome, **kwargs: Any) -> None:
        seen.append(outcome)

    # The table disappears under the poller (rolled back with the test's transaction).
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {PollFailure._meta.db_table}")
    caplog.set_level(logging.WARNING, logger="pollers.engine")
    poll_completed.connect(receiver, dispatch_uid="test-failures")
    try:
        outcome = poller.poll(source)
    finally:
        poll_completed.disconnect(dispatch_uid="test-failures")

    assert (outcome.ok, outcome.error_kind) == (False, "http_500")
    assert [o.poll_id for o in seen] == [outcome.poll_id]  # the poll ran to its end
    assert f"poll {outcome.poll_id} us-east: recording the failure failed" in caplog.text
    source.refresh_from_db()  # the connection still works and the health update stuck
    assert (source.last_error_kind, source.consecutive_failures) == ("http_500", 1)


@pytest.mark.parametrize(("value", "words"), [("many", "expected a whole number"), ("0", "must be at least 1")])
def test_it_rejects_a_bad_history_size_in_one_line(tmp_path: Path, value: str, words: str) -> None:
    result = run_manage("check", env={"POLLER_FAILURE_HISTORY": value}, tmp_path=tmp_path)
    assert_one_line_error(result, "POLLER_FAILURE_HISTORY", words)


def test_it_deletes_the_log_with_its_source() -> None:
    source = make_source("s", url="https://status.example.com/")
    PollFailure.record(source, occurred_at=timezone.now(), kind="timeout", message="read timed out")
    source.delete()
    assert not PollFailure.objects.exists()


def test_it_shows_the_log_read_only_in_the_admin(admin_client: Client) -> None:
    source = make_source("us-east", url="https://status.example.com/")
    failure = PollFailure.record(
        source, occurred_at=timezone.now(), kind="http_503", message="HTTP 503", status_code=503, latency_ms=41.6
    )
    page = admin_client.get("/admin/pollers/pollfailure/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "http_503" in html
    assert "42 ms" in html
    assert admin_client.get("/admin/pollers/pollfailure/?kind=http_503").status_code == 200
    assert admin_client.get("/admin/pollers/pollfailure/add/").status_code == 403
    change = admin_client.post(f"/admin/pollers/pollfailure/{failure.pk}/change/", {"kind": "edited"})
    assert change.status_code == 403
    assert admin_client.post(f"/admin/pollers/pollfailure/{failure.pk}/delete/", {"post": "yes"}).status_code == 403
    failure.refresh_from_db()
    assert failure.kind == "http_503"
