"""Conditional polls over real sockets: validators sent back, a 304 is a successful unchanged poll."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from metrics.extraction import canonical_json
from metrics.stores import get_store
from metrics.stores.base import MetricStore
from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed
from tests.any_store import open_store, reopened
from tests.conftest import sql_alias
from tests.factories import make_source
from tests.simulator import RunningSimulator, steady_simulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    """Steady documents: with the default 30 s window a window could turn between a test's two requests,
    and the second answer was a new document instead of the 304 the test waits for."""
    with steady_simulator() as running:
        yield running


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = Poller(
        fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0)),
        circuit_policy=CircuitPolicy(failure_threshold=5, cooldown=timedelta(seconds=60)),
    )
    yield poller
    poller.fetcher.close()


@pytest.fixture
def source(simulator: RunningSimulator) -> Source:
    return Source.objects.create(
        slug="etag-east", name="ETag East", url=simulator.url("etag-east", "stats=1&fault=etag"), timeout_seconds=2.0
    )


@pytest.fixture
def outcomes() -> Iterator[list[PollOutcome]]:
    seen: list[PollOutcome] = []

    def receiver(sender: Any, source: Source, outcome: PollOutcome, **kwargs: Any) -> None:
        seen.append(outcome)

    poll_completed.connect(receiver, dispatch_uid="test-conditional")
    yield seen
    poll_completed.disconnect(dispatch_uid="test-conditional")


def not_modified_count(slug: str) -> float:
    return REGISTRY.get_sample_value("devops_insights_polls_not_modified_total", {"source": slug}) or 0.0


def history_count(slug: str) -> int:
    return len(get_store().history(slug, limit=100).entries)


def test_it_sends_the_validators_back_and_treats_304_as_an_unchanged_poll(
    simulator: RunningSimulator, poller: Poller, source: Source, outcomes: list[PollOutcome]
) -> None:
    first = poller.poll(source)
    assert first.ok
    assert first.status_code == 200
    source.refresh_from_db()
    assert source.upstream_etag.startswith('"')
    assert source.upstream_last_modified.endswith("GMT")
    before = get_store().latest(source.slug)
    assert before is not None
    counted = not_modified_count(source.slug)

    second = poller.poll(source)
    assert second.ok, second.error_message
    assert second.status_code == 304  # the simulator matched If-None-Match
    assert second.record is not None
    assert second.record.changed is False
    assert not_modified_count(source.slug) == counted + 1
    after = get_store().latest(source.slug)
    assert after is not None
    assert after.last_seen_at > before.last_seen_at  # the poll moved last_seen_at...
    assert after.sequence == before.sequence
    assert history_count(source.slug) == 1  # ...and wrote nothing to history
    assert after.poll_meta["status_code"] == 304
    source.refresh_from_db()
    assert source.consecutive_failures == 0
    assert source.last_success_at is not None
    assert source.last_success_at >= second.started_at
    # Listeners (alerts) see the document as on any unchanged poll.
    assert outcomes[-1].payload == before.payload


def test_it_takes_a_new_document_and_new_validators_when_the_upstream_changes(
    simulator: RunningSimulator, poller: Poller, source: Source
) -> None:
    assert poller.poll(source).ok
    source.refresh_from_db()
    old_etag = source.upstream_etag
    simulator.advance(1)  # the next window: another document, another ETag

    changed = poller.poll(source)
    assert changed.ok
    assert changed.status_code == 200
    assert changed.record is not None
    assert changed.record.changed
    source.refresh_from_db()
    assert source.upstream_etag not in ("", old_etag)
    assert history_count(source.slug) == 2


def test_it_asks_in_full_when_the_store_lost_the_document(
    simulator: RunningSimulator, poller: Poller, source: Source
) -> None:
    assert poller.poll(source).ok
    get_store().delete_source(source.slug)
    source.refresh_from_db()
    assert source.upstream_etag  # still holding validators for a document the store no longer has

    again = poller.poll(source)
    assert again.ok, again.error_message
    assert again.status_code == 200
    assert get_store().latest(source.slug) is not None


def test_it_answers_if_modified_since_alone(simulator: RunningSimulator) -> None:
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0))
    url = simulator.url("etag-west", "stats=1&fault=etag")
    full = fetcher.fetch(url, timeout=2)
    assert full.ok
    assert full.last_modified
    assert full.etag
    conditional = fetcher.fetch(url, {"If-Modified-Since": full.last_modified}, timeout=2)
    assert (conditional.ok, conditional.not_modified, conditional.payload) == (True, True, None)
    unconditional = fetcher.fetch(url, timeout=2)
    assert (unconditional.not_modified, unconditional.status_code) == (False, 200)
    fetcher.close()


def test_it_keeps_no_validators_from_an_upstream_that_sends_none(simulator: RunningSimulator, poller: Poller) -> None:
    plain = Source.objects.create(slug="plain", name="Plain", url=simulator.url("plain"), timeout_seconds=2.0)
    assert poller.poll(plain).ok
    assert poller.poll(plain).status_code == 200
    plain.refresh_from_db()
    assert (plain.upstream_etag, plain.upstream_last_modified) == ("", "")


# --- numbers a database could store in another form, across a poller's restart ---------------------------------
# Doubles PostgreSQL's jsonb prints back as integers (1e16 and up) or as another double (-0.0), and integers past
# BSON's int64: the document read back from the store (a 304's, a change's base after a restart) must be the one sent.
NUMBERS = {
    "double_2_64": 1.8446744073709552e19,
    "double_1e16": 1e16,
    "double_1e300": 1e300,
    "negative_zero": -0.0,
    "one_double": 1.0,
    "int_past_int64": 12345678901234567890,
}


def _on(kind: str) -> Any:
    """A store kind, with the databases a poll writes: the sources' (default) and the store's."""
    databases = sorted({"default"} | ({sql_alias(kind)} if kind != "mongodb" else set()))
    return pytest.param(kind, marks=pytest.mark.django_db(databases=databases, transaction=True), id=kind)


def _poller(store: MetricStore) -> Poller:
    return Poller(
        store=store,
        fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0)),
        circuit_policy=CircuitPolicy(failure_threshold=5, cooldown=timedelta(seconds=60)),
    )


def _poll(store: MetricStore, source: Source) -> PollOutcome:
    """One poll by a poller just started on ``store``'s database: it knows nothing it did not read there."""
    poller = _poller(reopened(store))
    try:
        outcome = poller.poll(source)
    finally:
        poller.fetcher.close()
    assert outcome.ok, outcome.error_message
    assert outcome.record is not None
    source.refresh_from_db()
    return outcome


@pytest.mark.parametrize("kind", [_on("sqlite"), _on("postgres"), _on("mongodb")])
def test_it_stores_no_false_change_or_field_for_big_numbers_after_a_restart(
    request: pytest.FixtureRequest, simulator: RunningSimulator, kind: str
) -> None:
    simulator.set_fields("big-east", {"numbers": NUMBERS})
    source = make_source("big-east", url=simulator.url("big-east", "stats=1&fault=etag"), timeout_seconds=2.0)
    with open_store(request, kind) as store:
        first = _poll(store, source)
        assert (first.status_code, first.record and first.record.changed) == (200, True)
        latest = store.latest(source.slug)
        assert latest is not None
        assert canonical_json(latest.payload["numbers"]) == canonical_json(NUMBERS)  # 1e16, not 10000000000000000

        # A 304: the poller records the stored document again, read back from the database.
        not_modified = _poll(store, source)
        assert not_modified.status_code == 304
        assert not_modified.record is not None
        assert (not_modified.record.changed, not_modified.record.sequence) == (False, 1)

        # The same document in full (no validators this time).
        Source.objects.filter(pk=source.pk).update(upstream_etag="", upstream_last_modified="")
        source.refresh_from_db()
        same = _poll(store, source)
        assert same.status_code == 200
        assert same.record is not None
        assert (same.record.changed, same.record.sequence) == (False, 1)

        # A deploy changes the version alone: the diff, against the document read back under the lock, says so.
        simulator.deploy("big-east", "v9.9.9")
        deployed = _poll(store, source)
        assert deployed.record is not None
        assert (deployed.record.changed, deployed.record.sequence) == (True, 2)
        assert [(change.path, change.new) for change in deployed.record.diff] == [("version", "v9.9.9")]
        assert [change.path for change in store.history(source.slug, limit=1).entries[0].diff] == ["version"]
        assert len(store.history(source.slug, limit=100).entries) == 2
