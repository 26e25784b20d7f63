"""``devops_insights.collector``: start-up's objects frozen once per process, the thresholds set on every call, and a
kept exception detached from the frames it came through."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

from devops_insights import collector

ROOT = Path(__file__).resolve().parents[2]

# In a child interpreter: freezing is for the life of a process, and this one's collector is pytest's.
SCRIPT = textwrap.dedent(
    """
    import gc, json, weakref
    from devops_insights import collector

    class Node:
        pass

    kept = [Node() for _ in range(1000)]          # alive at start-up: frozen
    cycle = Node(); cycle.self = cycle            # start-up's garbage: freed, not frozen
    gone = weakref.ref(cycle)
    del cycle
    gc.disable()                                  # only settle's own collection may free it
    first = collector.settle(collector.POLLER)
    after_first = (gc.get_freeze_count(), gc.get_threshold(), gone() is None)
    second = collector.settle(collector.WEB)
    print(json.dumps({
        "first": first, "frozen": after_first[0], "threshold": after_first[1], "freed": after_first[2],
        "second": second, "frozen_after_second": gc.get_freeze_count(), "threshold_after_second": gc.get_threshold(),
    }))
    """
)


def test_it_freezes_start_up_once_frees_its_garbage_first_and_sets_the_thresholds() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["first"] is True
    assert seen["frozen"] >= 1000
    assert seen["freed"] is True
    assert seen["threshold"] == list(collector.POLLER)
    assert seen["second"] is False  # frozen once: a later call only sets the thresholds
    assert seen["frozen_after_second"] == seen["frozen"]
    assert seen["threshold_after_second"] == list(collector.WEB)
    # Above Python's default of 700, or nothing is tuned.
    assert collector.POLLER[0] > 700
    assert collector.WEB[0] > 700


def test_it_detaches_a_kept_exception_from_the_frames_it_came_through() -> None:
    class Body:
        pass

    bodies: list[weakref.ref[Body]] = []

    def parse() -> None:
        body = Body()
        bodies.append(weakref.ref(body))
        try:
            raise ValueError("not JSON")
        except ValueError:
            raise LookupError("refused") from None  # hidden from printing, the ValueError stays as its context

    def fetch() -> BaseException:
        try:
            parse()
        except LookupError as exc:
            kept = collector.detached(exc)
        return kept

    kept = fetch()
    assert (type(kept), str(kept)) == (LookupError, "refused")
    assert (kept.__traceback__, kept.__context__, kept.__cause__) == (None, None, None)
    assert bodies[0]() is None  # what parse() held went with its frame, though the exception is still kept
