"""Fired and resolved events reach the channel layer through realtime's ``events.publish_alert`` after commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from alerts.models import AlertEvent
from realtime import events
from tests.alerts.support import PollDriver, make_rule
from tests.factories import make_source

pytestmark = pytest.mark.django_db


def test_it_publishes_fired_and_resolved_events_to_the_channel_layer(
    redis_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("metrics.us-east", channel)

    async def next_message() -> dict[str, Any]:
        return dict(await asyncio.wait_for(layer.receive(channel), timeout=5))

    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, resolve_after=1)
    polls = PollDriver(source)
    with django_capture_on_commit_callbacks(execute=True):
        polls.ok(cpu_load=99)
    fired = AlertEvent.objects.get()
    message = async_to_sync(next_message)()
    assert message["type"] == "alert.event"
    assert message["source"] == "us-east"
    assert message["event"] == fired.as_dict() | {"source_alert_state": "degraded"}
    with django_capture_on_commit_callbacks(execute=True):
        polls.ok(cpu_load=1)
    message = async_to_sync(next_message)()
    assert (message["event"]["kind"], message["event"]["source_alert_state"]) == ("resolved", "ok")
    assert message["event"]["fired_event_id"] == fired.pk


def test_it_keeps_evaluating_when_publishing_fails(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def broken(slug: str, event: dict[str, Any]) -> None:
        raise ConnectionError("channel layer down")

    monkeypatch.setattr(events, "publish_alert", broken, raising=False)
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    with django_capture_on_commit_callbacks(execute=True):
        PollDriver(source).ok(cpu_load=99)
    assert AlertEvent.objects.filter(kind="fired").count() == 1


def test_it_publishes_nothing_when_live_alerts_are_off(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.ALERTS_PUBLISH_LIVE = False
    published: list[Any] = []
    monkeypatch.setattr(events, "publish_alert", lambda slug, event: published.append(event), raising=False)
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    with django_capture_on_commit_callbacks(execute=True):
        PollDriver(source).ok(cpu_load=99)
    assert published == []
