"""/metrics moves when the real poller polls the real simulator over loopback sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from metrics.stores import get_store
from tests import services
from tests.factories import make_poller, make_source
from tests.observability.support import scrape, value
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def poller() -> Iterator[Any]:
    get_store.cache_clear()
    poller = make_poller()
    yield poller
    poller.fetcher.close()
    get_store.cache_clear()


def test_it_moves_with_real_polls(client: Client, simulator: RunningSimulator, poller: Any) -> None:
    up = make_source("us-east", url=simulator.url("us-east"), timeout_seconds=2.0)
    down = make_source("eu-west", url=f"http://127.0.0.1:{services.free_port()}/status", timeout_seconds=0.5)
    before = scrape(client)

    first = poller.poll(up)
    second = poller.poll(up)
    failed = poller.poll(down)
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert first.ok
    assert not failed.ok
    assert moved("devops_insights_polls_total", source="us-east", outcome="changed") >= 1
    assert moved("devops_insights_poll_duration_seconds_count", source="us-east") == 2
    assert moved("devops_insights_polls_total", source="eu-west", outcome="failed") == 1
    assert moved("devops_insights_poll_errors_total", source="eu-west", kind=failed.error_kind) == 1
    assert moved("devops_insights_store_operation_seconds_count", backend="sql", operation="record") == 2
    # The upstream metrics of the stored snapshot, and the source health the poll wrote.
    latest = get_store().latest("us-east")
    assert latest is not None
    cpu = latest.metrics["cpu_load"]
    assert value(after, "devops_insights_upstream_cpu_load", source="us-east") == cpu
    assert value(after, "devops_insights_source_consecutive_failures", source="eu-west") == 1
    # The last poll's id reached the store's poll metadata (changed or not, the latest carries it).
    assert latest.poll_meta["poll_id"] == second.poll_id
