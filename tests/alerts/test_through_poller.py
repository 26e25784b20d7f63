"""End to end: the real poller polls the simulator over HTTP, alerts fire and resolve, webhooks arrive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from alerts.delivery import deliver_due
from alerts.models import AlertEvent, Delivery
from pollers.engine import Poller
from pollers.models import Source
from tests.alerts.support import make_channel, make_rule
from tests.factories import make_poller, make_source
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db
SECRET = "whsec-end-to-end-0123456789"


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = make_poller(failure_threshold=3, cooldown=60)
    yield poller
    poller.fetcher.close()


def test_it_alerts_on_real_polls_of_the_simulator(simulator: Any, poller: Poller, settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.ALERTS_DELIVERY_CONCURRENCY = 1
    source = make_source("us-east", url=simulator.url("us-east"), timeout_seconds=1.0)
    with WebhookReceiver(secret=SECRET) as receiver:
        hook = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        make_rule(
            name="region down",
            kind="field",
            path="status",
            operator="!=",
            value='"ok"',
            fire_after=2,
            resolve_after=1,
            severity="critical",
            channels=[hook],
        )
        make_rule(name="failing", kind="poll_failures", count=2, fire_after=1, channels=[hook])

        simulator.set_fault("us-east", kind="healthy")
        assert poller.poll(source).ok
        simulator.set_fault("us-east", kind="degraded")
        for _ in range(2):
            outcome = poller.poll(source)
            assert outcome.ok
            assert outcome.payload is not None
            assert outcome.payload["status"] == "error"
        assert [(e.kind, e.rule_name) for e in AlertEvent.objects.order_by("pk")] == [("fired", "region down")]
        assert Source.objects.get(pk=source.pk).alert_state == "critical"
        assert AlertEvent.objects.get().value["value"] == "error"

        simulator.set_fault("us-east", kind="healthy")
        assert poller.poll(source).ok
        assert Source.objects.get(pk=source.pk).alert_state == "ok"

        simulator.set_fault("us-east", kind="error", status=503)
        assert not poller.poll(source).ok
        assert not poller.poll(source).ok
        assert [(e.kind, e.rule_name) for e in AlertEvent.objects.order_by("pk")] == [
            ("fired", "region down"),
            ("resolved", "region down"),
            ("fired", "failing"),
        ]
        assert AlertEvent.objects.order_by("pk").last().value["error_kind"] == "http_503"  # type: ignore[union-attr]
        assert Source.objects.get(pk=source.pk).alert_state == "degraded"
        assert deliver_due() == 3
    assert [hit.json()["event"]["kind"] for hit in receiver.received] == ["fired", "resolved", "fired"]
    assert all(hit.signature_ok for hit in receiver.received)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
