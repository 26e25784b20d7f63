"""Hostile bodies through the whole poll: recorded as failures on the source, never an exception."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from metrics.extraction import diff_payloads, payload_hash, prepare, strip_paths
from metrics.stores import get_store
from metrics.stores.base import SourceSpec
from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import PollFailure, Source
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = Poller(
        fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0, max_body_bytes=1024 * 1024)),
        circuit_policy=CircuitPolicy(failure_threshold=5, cooldown=timedelta(seconds=60)),
    )
    yield poller
    poller.fetcher.close()


def poll_in_a_worker(poller: Poller, source: Source) -> Any:
    """Poll from a thread, as the loop's workers do, and hand back whatever came out of it."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(poller.poll(source))
        except BaseException as exc:
            results.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(60)
    [result] = results
    return result


@pytest.mark.django_db(transaction=True)  # the poll runs in another thread, on its own connection
@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("fault=deep&depth=200000", "too_deep"),
        ("fault=bomb&coding=gzip&declare=0", "too_large"),
        ("fault=bad_encoding&coding=br", "bad_encoding"),
        ("fault=charset&charset=iso-8859-1&label=utf-8", "bad_charset"),
    ],
)
def test_it_records_a_hostile_body_as_a_failed_poll(
    simulator: RunningSimulator, poller: Poller, query: str, kind: str
) -> None:
    source = Source.objects.create(slug="hostile", name="Hostile", url=simulator.url("hostile", query))
    outcome = poll_in_a_worker(poller, source)
    assert not isinstance(outcome, BaseException), outcome
    assert (outcome.ok, outcome.error_kind) == (False, kind)
    source.refresh_from_db()
    assert source.last_error_kind == kind
    assert source.consecutive_failures == 1
    [failure] = PollFailure.objects.filter(source=source)
    assert failure.kind == kind
    assert failure.poll_id == outcome.poll_id
    assert get_store().latest("hostile") is None  # nothing stored from a refused body


def nested(depth: int, leaf: Any) -> dict[str, Any]:
    """An object ``depth`` levels deep (the object itself is level 1)."""
    node: Any = leaf
    for level in range(depth - 1):
        node = [node] if level % 2 else {"k": node}
    return {"root": node}


def test_it_hashes_diffs_copies_and_stores_a_payload_at_the_deepest_allowed_level() -> None:
    # The parser lets through at most POLLER_MAX_JSON_DEPTH (at most 90) levels: every recursive walker
    # after it (hash, diff, volatile paths, the store) must cope with that in a worker thread's stack.
    depth = 90
    old, new = nested(depth, 1), nested(depth, 2)
    errors: list[BaseException] = []
    found: list[Any] = []

    def run() -> None:
        try:
            spec = SourceSpec(slug="deep", metric_paths={}, volatile_paths=("root.k",))
            found.append(diff_payloads(old, new))
            found.append(payload_hash(new, ("root.k.0",)))
            found.append(strip_paths(new, ["root.k"]))
            found.append(prepare(spec, new, 1024 * 1024))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    assert errors == []
    [change] = found[0]
    assert (change.old, change.new, change.kind) == (1, 2, "changed")
    assert change.path.count(".") == depth - 1
    assert depth >= settings.POLLER_MAX_JSON_DEPTH  # the bound this test covers is the configurable maximum


@pytest.mark.django_db(transaction=True)
def test_it_stores_and_diffs_two_payloads_at_the_deepest_allowed_level() -> None:
    store = get_store()
    spec = SourceSpec(slug="deep-store", metric_paths={}, volatile_paths=())
    now = datetime.now(UTC)
    assert store.record(spec, nested(90, 1), now).changed
    second = store.record(spec, nested(90, 2), now + timedelta(seconds=1))
    assert second.changed
    assert len(second.diff) == 1


def test_it_records_an_unexpected_error_inside_the_fetch_as_internal(
    simulator: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_resolver(host: str, port: int) -> list[str]:
        raise RuntimeError(f"resolver bug while looking up {host}")  # not an OSError: nothing expects it

    poller = Poller(
        fetcher=Fetcher(FetchPolicy(retries=2, backoff_base=0.01), resolver=broken_resolver),
        circuit_policy=CircuitPolicy(failure_threshold=5, cooldown=timedelta(seconds=60)),
    )
    source = Source.objects.create(slug="broken-fetch", name="Broken", url="http://upstream.example/status")
    outcome = poller.poll(source)
    assert (outcome.ok, outcome.error_kind, outcome.attempts) == (False, "internal", 1)  # not retried
    assert "RuntimeError" in outcome.error_message
    assert PollFailure.objects.get(source=source).kind == "internal"
    assert "resolver bug" not in caplog.text  # the type is logged, not the text (it might quote a URL)
