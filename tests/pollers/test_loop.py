"""The --loop scheduler in-process: intervals, a hanging source, reloads, a clean shutdown."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from datetime import timedelta
from typing import Any

import pytest

from boards.models import Annotation
from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.health_batch import HealthBatch
from pollers.leases import LeaseBackend, LocalLeases, RedisLeases
from pollers.loop import PollerLoop
from pollers.models import PollerProcess, Source
from pollers.schedule import phase, slot_at
from tests.factories import make_poller, make_source
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db(transaction=True)


class Running:
    def __init__(self, loop: PollerLoop) -> None:
        self.loop = loop
        self.thread = threading.Thread(target=loop.run, daemon=True)
        # The moment the scheduler set for each poll it dispatched, per source: its decision, which the
        # machine's load cannot move, where the moment a poll reaches the upstream can be late on a busy host.
        self.dues: dict[str, list[float]] = {}
        dispatch = loop.run_slot

        def run_slot(source: Source, slot: int, interval: float, due: float | None = None) -> None:
            if due is not None:
                self.dues.setdefault(source.slug, []).append(due)
            dispatch(source, slot, interval, due)

        loop.run_slot = run_slot  # type: ignore[method-assign]

    def stop(self, timeout: float = 15) -> float:
        started = time.monotonic()
        self.loop.shutdown = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the loop did not stop"
        return time.monotonic() - started


@pytest.fixture
def start_loop() -> Iterator[Any]:
    running: list[Running] = []

    def start(
        leases: LeaseBackend | None = None,
        concurrency: int = 4,
        health_batch: HealthBatch | None = None,
        poller: Poller | None = None,
        **kwargs: Any,
    ) -> Running:
        poller = poller or make_poller(failure_threshold=100, cooldown=60)
        poller.health_batch = health_batch  # as `manage.py poll --loop` gives it one
        loop = PollerLoop(
            poller,
            leases or LocalLeases(),
            concurrency=concurrency,
            jitter_fraction=0.05,
            heartbeat_seconds=0.5,
            reload_seconds=kwargs.pop("reload_seconds", 0.5),
            progress_seconds=kwargs.pop("progress_seconds", 60),
            write=lambda line: None,
            **kwargs,
        )
        run = Running(loop)
        run.thread.start()
        running.append(run)
        return run

    yield start
    for run in running:
        if run.thread.is_alive():
            run.stop()


def add(
    simulator: RunningSimulator, slug: str, interval: int = 1, timeout: float = 1.0, query: str = "stats=1"
) -> Source:
    # Intervals under the admin's minimum of 5 s keep these tests short; the ORM does not validate.
    return make_source(slug, url=simulator.url(slug, query), interval_seconds=interval, timeout_seconds=timeout)


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_it_polls_each_source_once_per_interval(simulator: RunningSimulator, start_loop: Any) -> None:
    for slug in ("us-east", "eu-west", "sa-east"):
        add(simulator, slug)
    run = start_loop()
    time.sleep(4.2)
    run.stop()
    for slug in ("us-east", "eu-west", "sa-east"):
        times = simulator.requests_for(slug)
        assert 3 <= len(times) <= 5, (slug, times)
        # Exactly one poll in each interval slot of the source, and no slot skipped.
        slots = [slot_at(t, 1, phase(slug, 1)) for t in times]
        assert slots == list(range(slots[0], slots[0] + len(slots))), (slug, times)
        # On schedule: one interval apart, give or take the 5% jitter (the first poll claims a slot under way).
        # The scheduler's moments, not the upstream's arrival times: those move with the machine's load.
        gaps = [b - a for a, b in itertools.pairwise(run.dues[slug][1:])]
        assert gaps, (slug, run.dues)
        assert all(0.95 - 1e-6 <= gap <= 1.05 + 1e-6 for gap in gaps), (slug, gaps)
        assert Source.objects.get(slug=slug).last_success_at is not None


class FinishesBeforeSubmitReturns(Executor):
    """The interleaving a busy machine can give a thread pool: the worker runs the whole poll before the
    thread that submitted it gets the interpreter back."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_it_polls_a_source_again_when_its_poll_finished_before_submit_returned(simulator: RunningSimulator) -> None:
    add(simulator, "us-east")
    loop = PollerLoop(make_poller(), LocalLeases(), concurrency=2, jitter_fraction=0, write=lambda line: None)
    loop.reload()
    executor = FinishesBeforeSubmitReturns()
    # In the last quarter of a slot, reload schedules the next one rather than poll twice in a moment.
    wait_for(lambda: loop.heap[0][0] <= time.time())
    loop.dispatch(executor)
    assert len(simulator.requests_for("us-east")) == 1
    assert loop.in_flight == {}  # over, so nothing holds the source back from its next slot
    wait_for(lambda: loop.heap[0][0] <= time.time())  # the next slot is due
    loop.dispatch(executor)
    assert len(simulator.requests_for("us-east")) == 2
    assert loop.in_flight == {}


def test_it_keeps_polling_the_others_while_one_source_hangs(simulator: RunningSimulator, start_loop: Any) -> None:
    add(simulator, "stuck", timeout=3.0, query="fault=hang")
    for slug in ("us-east", "eu-west"):
        add(simulator, slug)
    run = start_loop(concurrency=3)
    time.sleep(4.2)
    run.stop()
    assert len(simulator.requests_for("stuck")) <= 2  # never two polls of one source at once
    for slug in ("us-east", "eu-west"):
        assert len(simulator.requests_for(slug)) >= 3
    assert Source.objects.get(slug="stuck").last_error_kind == "timeout"


def test_it_picks_up_added_and_disabled_sources(simulator: RunningSimulator, start_loop: Any) -> None:
    add(simulator, "us-east")
    run = start_loop(reload_seconds=0.3)
    time.sleep(1.2)
    add(simulator, "eu-west")
    Source.objects.filter(slug="us-east").update(enabled=False)
    time.sleep(0.6)
    count_after_disable = len(simulator.requests_for("us-east"))
    time.sleep(2.0)
    run.stop()
    assert len(simulator.requests_for("eu-west")) >= 2
    assert len(simulator.requests_for("us-east")) == count_after_disable


def test_it_finishes_in_flight_polls_releases_leases_and_marks_itself_stopped(
    simulator: RunningSimulator, start_loop: Any, redis_client: Any
) -> None:
    add(simulator, "slow", timeout=5.0, query="stats=1&fault=latency&delay=1.5")
    leases = RedisLeases(redis_client, prefix="t:poller")
    run = start_loop(leases=leases)
    deadline = time.monotonic() + 5
    while not simulator.requests_for("slow") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert simulator.requests_for("slow"), "the poll never started"
    assert redis_client.exists("t:poller:{slow}:lease")
    took = run.stop()
    assert 0.5 < took < 5  # it waited for the in-flight poll instead of abandoning it
    source = Source.objects.get(slug="slow")
    assert source.last_success_at is not None  # the in-flight poll completed and was stored
    assert not redis_client.exists("t:poller:{slow}:lease")
    process = PollerProcess.objects.get(process_id=run.loop.process_id)
    assert process.stopped_at is not None
    assert process.polls_done >= 1
    assert process.lease_backend == "redis"
    assert not PollerProcess.objects.alive().filter(pk=process.pk).exists()


def test_it_leaves_the_markers_it_held_written_when_it_stops(simulator: RunningSimulator, start_loop: Any) -> None:
    add(simulator, "us-east")
    # Never due on its own: only the shutdown flushes it.
    run = start_loop(health_batch=HealthBatch(max_rows=1000, max_age=3600))
    wait_for(lambda: run.loop.polls_done >= 1)  # the first document
    simulator.deploy("us-east", "v2.6.15")
    simulator.advance(1)
    done = run.loop.polls_done
    wait_for(lambda: run.loop.polls_done >= done + 2)  # at least one whole poll after the deploy
    assert not Annotation.objects.exists()  # held for the batch's flush
    run.stop()
    [marker] = Annotation.objects.all()
    assert (marker.source.slug, marker.kind, marker.tags) == ("us-east", "auto", ["deploy"])
    assert marker.text.endswith("→ v2.6.15")


def test_it_heartbeats_while_running(simulator: RunningSimulator, start_loop: Any) -> None:
    add(simulator, "us-east")
    run = start_loop()
    time.sleep(1.5)
    process = PollerProcess.objects.get(process_id=run.loop.process_id)
    first_beat = process.last_heartbeat_at
    assert PollerProcess.objects.alive().filter(pk=process.pk).exists()
    time.sleep(1.0)
    process.refresh_from_db()
    assert process.last_heartbeat_at > first_beat
    assert process.polls_done >= 1
    run.stop()


def test_it_forgets_poller_processes_silent_for_a_day() -> None:
    from django.utils import timezone

    old = PollerProcess.register("old:1:aaa", "old", 1, "redis")
    PollerProcess.objects.filter(pk=old.pk).update(last_heartbeat_at=timezone.now() - timedelta(days=2))
    recent = PollerProcess.register("recent:2:bbb", "recent", 2, "redis")
    recent.mark_stopped(5)
    PollerProcess.register("new:3:ccc", "new", 3, "local")
    assert set(PollerProcess.objects.values_list("process_id", flat=True)) == {"recent:2:bbb", "new:3:ccc"}
    assert list(PollerProcess.objects.alive().values_list("process_id", flat=True)) == ["new:3:ccc"]


def test_it_skips_slots_it_cannot_claim_when_redis_is_down(simulator: RunningSimulator, start_loop: Any) -> None:
    import redis

    add(simulator, "us-east")
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    run = start_loop(leases=RedisLeases(dead, prefix="t:poller"))
    time.sleep(2.5)
    assert run.thread.is_alive()  # still running, waiting for Redis
    run.stop()
    assert simulator.requests_for("us-east") == []  # no lease, no poll: never a double poll


def test_it_waits_as_long_as_a_429_asks_before_polling_again(simulator: RunningSimulator, start_loop: Any) -> None:
    add(simulator, "busy")  # every second, but the upstream asks for 3 s of quiet
    simulator.set_fault("busy", kind="rate_limit", retry_after="3")
    run = start_loop()  # no retries inside a poll here, so each poll ends with the 429 and its Retry-After
    time.sleep(3.6)
    run.stop()
    times = simulator.requests_for("busy")
    assert 1 <= len(times) <= 2, times  # the scheduler skips the slots inside the Retry-After
    if len(times) == 2:
        assert times[1] - times[0] >= 2.9
    assert Source.objects.get(slug="busy").last_error_kind == "http_429"


def test_it_polls_again_after_its_bound_when_a_429_asks_for_a_day(
    simulator: RunningSimulator, start_loop: Any, settings: Any
) -> None:
    add(simulator, "busy")  # every second; the upstream asks for a day of quiet on every answer
    simulator.set_fault("busy", kind="rate_limit", retry_after="86400")
    settings.POLLER_RETRY_AFTER_MAX = 1.5  # the bound, as `manage.py poll` reads it (FetchPolicy.from_settings)
    poller = Poller(
        fetcher=Fetcher(FetchPolicy.from_settings(allowed_private_hosts=("127.0.0.1",), retries=0)),
        circuit_policy=CircuitPolicy(failure_threshold=100, cooldown=timedelta(seconds=1.5)),  # never opens here
    )
    run = start_loop(poller=poller)
    time.sleep(5.5)
    run.stop()
    times = simulator.requests_for("busy")
    assert len(times) >= 2, times  # polled again within the bound, not a day later
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 1.4, gaps  # and the bound itself was honoured: no poll in the slots inside it


class EndsDuringExtend(LocalLeases):
    """The poll ends (its worker releases the lease) while the loop's thread is extending the leases it saw."""

    def __init__(self, loop: Callable[[], PollerLoop]) -> None:
        super().__init__()
        self.loop = loop

    def extend(self, lease: Any, lease_ttl: float) -> bool:
        loop = self.loop()
        with loop.lock:
            loop.held.pop(lease.slug, None)
        self.release(lease)
        return super().extend(lease, lease_ttl)


@pytest.mark.parametrize("ends_during_extend", [True, False])
def test_it_reports_a_lease_lost_only_while_its_poll_still_holds_it(
    caplog: pytest.LogCaptureFixture, ends_during_extend: bool
) -> None:
    from prometheus_client import REGISTRY

    def lost() -> float:
        return REGISTRY.get_sample_value("devops_insights_lease_claims_total", {"result": "lost"}) or 0.0

    loops: list[PollerLoop] = []
    leases = EndsDuringExtend(lambda: loops[0]) if ends_during_extend else LocalLeases()
    loop = PollerLoop(make_poller(), leases, concurrency=1, jitter_fraction=0, write=lambda line: None)
    loops.append(loop)
    lease = leases.claim("us-east", 1, slot_ttl=2.0, lease_ttl=2.0)
    assert lease is not None
    loop.held["us-east"] = lease
    if not ends_during_extend:
        leases.release(lease)  # gone from the store while the poll still holds it: really lost
    before = lost()
    with caplog.at_level(logging.WARNING, logger="pollers.loop"):
        loop.extend_leases()
    reported = "lost while polling" in caplog.text
    assert reported is not ends_during_extend
    assert lost() - before == (0 if ends_during_extend else 1)
