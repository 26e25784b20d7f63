"""A one-off ``manage.py poll`` interrupted by SIGINT: in-flight polls finish, the rest never start."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.poller_stack import Stack
from tests.simulator import RunningSimulator


def test_it_finishes_in_flight_polls_and_starts_no_more_when_interrupted(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    stack = Stack(tmp_path, None, simulator)
    try:
        stack.migrate()
        stack.manage("seed_demo", "--simulator-port", str(simulator.port))
        for region in ("us-east", "eu-west", "sa-east", "us-west", "eu-central", "ap-southeast"):
            simulator.set_fault(region, kind="latency", delay=1.5)
        proc = stack.start_poller("--concurrency", "2")
        deadline = time.monotonic() + 30
        while sum(len(simulator.requests_for(r)) for r in ("ap-southeast", "eu-central")) < 2:
            assert time.monotonic() < deadline, "the first polls never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        text = out.decode()
        assert proc.returncode == 1, text  # not every source was polled
        rows = {line.split()[0]: line for line in text.splitlines() if line.split() and "-" in line.split()[0]}
        # The two in flight (sources poll in slug order) completed; the four queued never started.
        assert "ok" in rows["ap-southeast"].split()
        assert "ok" in rows["eu-central"].split()
        for region in ("eu-west", "sa-east", "us-east", "us-west"):
            assert "not polled" in rows[region], text
            assert simulator.requests_for(region) == []
        assert "4 of 6 polls failed" in text
    finally:
        stack.stop_all()
