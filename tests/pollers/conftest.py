"""Fixtures shared by the pollers tests: `us_east`, `default_poller` and `announced` below; the services, the
simulator, `allow_loopback` and the fresh cache come from tests/conftest.py; sources, users, clients and tokens
from tests/factories.py.

Named for what they are, not `source` and `poller`: several modules have a `source` or a `poller` fixture of their
own that means another one (a source the admin edits, one with an ETag, a poller with another circuit), which would
silently stand in for a shared fixture of the same name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pollers.engine import Poller
from pollers.models import Source
from pollers.signals import source_added
from tests.factories import make_poller, make_source
from tests.simulator import RunningSimulator


@pytest.fixture
def us_east(simulator: RunningSimulator) -> Source:
    """The us-east source, at the simulator, with a short timeout."""
    return make_source("us-east", url=simulator.url("us-east"), timeout_seconds=1.0)


@pytest.fixture
def default_poller() -> Iterator[Poller]:
    """A poller of ``make_poller``'s defaults (loopback allowed, no retries, a short circuit cooldown), closed after."""
    poller = make_poller()
    yield poller
    poller.fetcher.close()


@pytest.fixture
def announced() -> Iterator[list[tuple[str, int | None, int | None]]]:
    """Each ``source_added`` while the test runs: the source's slug, primary key and team id as receivers see them."""
    seen: list[tuple[str, int | None, int | None]] = []

    def note(sender: Any, source: Source, **kwargs: Any) -> None:
        seen.append((source.slug, source.pk, source.team_id))

    source_added.connect(note, sender=Source, weak=False, dispatch_uid="tests.announced")
    yield seen
    source_added.disconnect(sender=Source, dispatch_uid="tests.announced")
