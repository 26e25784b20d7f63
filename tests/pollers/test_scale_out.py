"""Several real ``poll --loop`` processes share the sources through Redis leases.

Three pollers run against the simulator and a real Redis; every request the simulator gets is
mapped to the interval slot of its source. Each slot must see exactly one poll, before and after
one poller is killed with SIGKILL, and no source may miss more than one slot.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metrics.defaults import REGIONS
from pollers.schedule import phase, slot_at
from tests.poller_stack import Stack
from tests.simulator import RunningSimulator

INTERVAL = 5


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, redis_client: Any, simulator: RunningSimulator) -> Iterator[Stack]:
    stack = Stack(tmp_path, redis_url, simulator)
    stack.migrate()
    stack.manage("seed_demo", "--simulator-port", str(simulator.port))
    stack.manage(
        "shell", "-c", f"from pollers.models import Source; Source.objects.update(interval_seconds={INTERVAL})"
    )
    yield stack
    stack.stop_all()


def slot_counts(simulator: RunningSimulator, start: float, end: float) -> dict[str, Counter[int]]:
    """Per region: how many requests fell in each of its slots that lie wholly inside [start, end)."""
    counts: dict[str, Counter[int]] = {}
    for region in REGIONS:
        offset = phase(region, INTERVAL)
        first, last = slot_at(start, INTERVAL, offset) + 1, slot_at(end, INTERVAL, offset) - 1
        counter: Counter[int] = Counter({slot: 0 for slot in range(first, last + 1)})
        for t in simulator.requests_for(region):
            slot = slot_at(t, INTERVAL, offset)
            if first <= slot <= last:
                counter[slot] += 1
        counts[region] = counter
    return counts


@pytest.mark.slow
def test_it_polls_each_source_exactly_once_per_interval_across_three_pollers_and_survives_a_kill(
    stack: Stack, redis_client: Any
) -> None:
    pollers = [stack.start_poller() for _ in range(3)]
    # Start-up (Django import, migrations check, first schedule) takes seconds, more on a loaded machine:
    # count slots only once all three pollers are registered and every region has been polled.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert all(p.poll() is None for p in pollers), "a poller exited during start-up"
        running = stack.query("SELECT count(*) FROM pollers_pollerprocess WHERE stopped_at IS NULL")
        if running == [(3,)] and all(stack.simulator.requests_for(region) for region in REGIONS):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the three pollers did not all start and poll every region within 90 s")
    before_start = time.time()
    time.sleep(3 * INTERVAL + 1)
    before_end = time.time()

    # Kill the busiest poller the hard way: no signal handler, no lease release, no goodbye.
    done = dict(stack.query("SELECT pid, polls_done FROM pollers_pollerprocess"))
    assert sum(1 for n in done.values() if n > 0) >= 2, f"the load did not spread: {done}"
    victim = max(pollers, key=lambda p: done.get(p.pid, 0))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.time()
    time.sleep(3 * INTERVAL + 1)
    after_end = time.time()

    before = slot_counts(stack.simulator, before_start, before_end)
    after = slot_counts(stack.simulator, killed_at, after_end)
    for region in REGIONS:
        assert len(before[region]) >= 2
        assert set(before[region].values()) == {1}, (region, "before the kill", before[region])
        assert max(after[region].values()) == 1, (region, "after the kill: polled twice", after[region])
        # The slot in flight at the kill may be lost; never more than that one.
        assert list(after[region].values()).count(0) <= 1, (region, "after the kill: skipped", after[region])
    # Everything that happened in between kept to one poll per slot as well.
    whole = slot_counts(stack.simulator, before_start, after_end)
    assert all(max(c.values()) == 1 for c in whole.values())

    survivors = [p for p in pollers if p is not victim]
    for proc in survivors:
        proc.send_signal(signal.SIGTERM)
    for proc in survivors:
        assert proc.wait(timeout=20) == 0
    rows = stack.query("SELECT pid, stopped_at FROM pollers_pollerprocess")
    stopped = {pid for pid, stopped_at in rows if stopped_at is not None}
    assert stopped == {p.pid for p in survivors}  # the killed one could not say goodbye
    assert not [k for k in redis_client.scan_iter(match="*:lease")]  # survivors released theirs
    assert stack.query("SELECT count(*) FROM metrics_latest") == [(len(REGIONS),)]


def test_it_warns_that_only_one_poller_may_run_without_redis_and_stops_on_sigterm(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    stack = Stack(tmp_path, None, simulator)
    try:
        stack.migrate()
        stack.manage("seed_demo", "--simulator-port", str(simulator.port))
        stack.env["LOG_LEVEL"] = "info"
        proc = stack.start_poller()
        deadline = time.monotonic() + 30
        while not simulator.requests_for("us-east") and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode()
        text = out.decode()
        assert "run only ONE poller" in text
        assert "stopped after" in text
        assert stack.query("SELECT count(*) FROM pollers_pollerprocess WHERE stopped_at IS NOT NULL") == [(1,)]
    finally:
        stack.stop_all()
