"""Fixtures of the objectives tests: the services, the simulator and the fresh cache come from
tests/conftest.py; sources, objectives and recorded poll outcomes from tests/factories.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts import measured


@pytest.fixture(autouse=True)
def _forget_measured() -> Iterator[None]:
    """The anomaly rules' per-process memory of judged hours must not leak between tests."""
    measured.forget()
    yield
    measured.forget()
