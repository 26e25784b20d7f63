"""realtime/shared_reads.py: lookups that ask at once share a read, and none gets a value older than its own start."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from realtime.consumers import CACHED_SNAPSHOTS, read_snapshots
from realtime.shared_reads import SharedReads
from tests.realtime.conftest import status_payload


async def test_it_shares_one_read_among_lookups_that_ask_at_once_and_reads_again_for_later_ones() -> None:
    value = 0

    async def fetch(key: str) -> tuple[str, int]:
        await asyncio.sleep(0.01)
        return key, value

    reads = SharedReads(fetch)
    first = await asyncio.gather(*(reads.read("a") for _ in range(20)))
    assert set(first) == {("a", 0)}
    # The first asker's read, then one more for everyone who asked while it ran.
    assert reads.reads <= 2
    value = 1  # a change made before the next lookup began: that lookup sees it
    assert await reads.read("a") == ("a", 1)
    assert await reads.read("b") == ("b", 1)


async def test_it_hands_a_failed_read_to_every_lookup_waiting_on_it() -> None:
    failing = True

    async def fetch(_key: None) -> str:
        await asyncio.sleep(0.01)
        if failing:
            raise ConnectionError("down")
        return "up"

    reads = SharedReads(fetch)
    outcomes = await asyncio.gather(*(reads.read(None) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    failing = False
    assert await reads.read(None) == "up"


async def test_it_frees_what_a_failed_read_and_its_lookups_held_once_they_are_done() -> None:
    class Held:
        """Stands for what a frame holds when the read fails: a subscribe's snapshots read so far, a read's rows."""

    held: list[weakref.ref[Held]] = []

    async def fetch(_key: None) -> str:
        in_hand = Held()
        held.append(weakref.ref(in_hand))
        await asyncio.sleep(0)  # the other lookups ask meanwhile
        raise ConnectionError("down")

    reads = SharedReads(fetch)

    async def subscribe() -> None:
        found = Held()
        held.append(weakref.ref(found))
        with contextlib.suppress(ConnectionError):  # as the consumer answers "unavailable" and carries on
            await reads.read(None)

    collecting = gc.isenabled()
    gc.disable()  # as good as off between a web process's collections (devops_insights/collector.py)
    try:
        await asyncio.gather(*(subscribe() for _ in range(3)))
        # The first lookup's read and the one the two others waited for, and the three lookups.
        assert len(held) == 5
        alive = sum(ref() is not None for ref in held)
    finally:
        if collecting:
            gc.enable()
    assert alive == 0, f"{alive} of {len(held)} frames' objects outlived the failed reads"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sources")
async def test_it_shares_one_snapshot_read_among_subscribes_that_ask_at_once(
    redis_settings: Any, record: Callable[..., Any]
) -> None:
    first = await record("us-east", status_payload(cpu_load=10.0))
    reads = CACHED_SNAPSHOTS.reads
    found = await asyncio.gather(*(read_snapshots(["us-east"]) for _ in range(20)))
    assert {snapshots["us-east"].sequence for snapshots in found} == {first.sequence}
    assert CACHED_SNAPSHOTS.reads - reads <= 2
    second = await record("us-east", status_payload(cpu_load=20.0))
    assert (await read_snapshots(["us-east"]))["us-east"].sequence == second.sequence
