"""Fixtures shared by the pollers tests: `announced` below; the services, the simulator, `allow_loopback`
and the fresh cache come from tests/conftest.py; sources, users, clients and tokens from tests/factories.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pollers.models import Source
from pollers.signals import source_added


@pytest.fixture
def announced() -> Iterator[list[tuple[str, int | None, int | None]]]:
    """Each ``source_added`` while the test runs: the source's slug, primary key and team id as receivers see them."""
    seen: list[tuple[str, int | None, int | None]] = []

    def note(sender: Any, source: Source, **kwargs: Any) -> None:
        seen.append((source.slug, source.pk, source.team_id))

    source_added.connect(note, sender=Source, weak=False, dispatch_uid="tests.announced")
    yield seen
    source_added.disconnect(sender=Source, dispatch_uid="tests.announced")
