"""End to end: the real poller polls the simulator over HTTP; its failures burn an availability budget,
a burn-rate alert fires once, resolves once, and each is delivered once to a webhook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from alerts.delivery import deliver_due
from alerts.models import AlertEvent, Delivery, RuleState
from metrics.stores import get_store
from objectives.attainment import measure
from pollers.engine import Poller
from tests.alerts.support import make_channel, make_rule
from tests.factories import make_objective, make_poller, make_source
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SECRET = "whsec-burn-rate-0123456789ab"
MAX_POLLS = 300  # bounds the state-based wait for the resolution


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = make_poller(failure_threshold=50, cooldown=60)  # the circuit stays closed: every failure is polled
    yield poller
    poller.fetcher.close()


def test_it_fires_once_and_resolves_once_when_the_simulator_burns_the_budget(
    simulator: Any, poller: Poller, allow_loopback: Any, settings: Any
) -> None:
    settings.ALERTS_DELIVERY_CONCURRENCY = 1
    source = make_source("us-east", url=simulator.url("us-east"), timeout_seconds=1.0)
    objective = make_objective("us-east up", target="99", sources=[source])
    with WebhookReceiver(secret=SECRET) as receiver:
        hook = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        rule = make_rule(
            name="budget burn",
            kind="burn_rate",
            objective=objective,
            fire_after=1,
            resolve_after=1,
            severity="critical",
            channels=[hook],
        )

        simulator.set_fault("us-east", kind="healthy")
        for _ in range(3):
            assert poller.poll(source).ok
        assert not AlertEvent.objects.exists()

        simulator.set_fault("us-east", kind="error", status=503)
        for _ in range(3):
            assert not poller.poll(source).ok
        fired = AlertEvent.objects.get()
        assert (fired.kind, fired.rule_id) == ("fired", rule.pk)
        assert "14.4x 1h/5m" in fired.value["firing"]
        assert fired.value["burn_rates"]["5m"] >= 14.4

        budget = measure(objective, get_store(), timezone.now())
        assert budget.total == 6
        assert budget.good == 3
        assert budget.remaining_budget_percent is not None
        assert budget.remaining_budget_percent < 0

        # Healthy polls dilute the short windows until no pair burns: wait on that state, not on time.
        simulator.set_fault("us-east", kind="healthy")
        for _ in range(MAX_POLLS):
            assert poller.poll(source).ok
            if RuleState.objects.get(rule=rule, source=source).status == "inactive":
                break
        assert [e.kind for e in AlertEvent.objects.order_by("pk")] == ["fired", "resolved"]
        assert deliver_due() == 2
        assert deliver_due() == 0  # exactly once: nothing left to send
    assert [hit.json()["event"]["kind"] for hit in receiver.received] == ["fired", "resolved"]
    assert all(hit.signature_ok for hit in receiver.received)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
