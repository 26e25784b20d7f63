"""The demo as a user tries it: examples/config applied, the simulator's `degraded` fault set on a region the way
the README says (its control API over HTTP), the real poller polling it once per window as `runstack` does
(interval 30 s, window 30 s). The example's "Redis down" rule must fire and the public status page follow."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from alerts.models import AlertEvent
from pollers.models import Source
from pollers.simulator import payload
from provisioning.apply import apply_files
from provisioning.document import read_directory
from tests.factories import make_poller
from tests.paths import ROOT
from tests.simulator import RunningSimulator, control

pytestmark = pytest.mark.django_db
ENVIRON = {"OPS_WEBHOOK_URL": "http://127.0.0.1:9/hook", "OPS_WEBHOOK_SECRET": "a-signing-key-of-24-chars"}


def to_windows_chance_leaves_healthy(simulator: RunningSimulator, region: str, count: int) -> None:
    """Move the simulator's clock to the middle of the first of ``count`` windows in which chance degrades
    nothing of ``region``: what the test sees is the fault's doing alone, whatever the wall clock."""
    window_seconds = simulator.state.window_seconds
    now = simulator.state.now()
    start = payload.window_index(now, window_seconds) + 1
    while any(payload.failed_service(region, start + n) for n in range(count)):
        start += 1
    with simulator.state.lock:
        simulator.state.offset += (start + 0.5) * window_seconds - now


def test_it_fires_the_examples_redis_rule_and_moves_the_status_page_when_a_region_is_degraded(
    simulator: RunningSimulator, settings: Any
) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    apply_files(read_directory(ROOT / "examples" / "config"), environ=ENVIRON)
    source = Source.objects.get(slug="eu-central")
    source.url = simulator.url("eu-central")
    source.save()
    poller = make_poller()
    to_windows_chance_leaves_healthy(simulator, "eu-central", 4)

    status, _ = control(simulator.base_url, "POST", "/_control/faults/eu-central", {"kind": "degraded"})
    assert status == 200
    seen = []
    try:
        for _ in range(3):  # the rule's default fire after: 3 consecutive polls, one per window
            outcome = poller.poll(Source.objects.get(pk=source.pk))
            assert outcome.ok
            assert outcome.payload is not None
            seen.append(outcome.payload["results"]["services"]["redis"])
            simulator.advance(1)
    finally:
        poller.fetcher.close()

    assert [(e.kind, e.rule_name) for e in AlertEvent.objects.filter(source=source)] == [("fired", "Redis down")]
    assert Source.objects.get(pk=source.pk).alert_state == "critical"
    summary = Client().get("/status/demo/api/v2/summary.json").json()
    states = {component["name"]: component["status"] for component in summary["components"]}
    assert states["Europe"] == "partial_outage"
    assert seen == [False, False, False]  # the fault keeps redis down in every window while it stands
