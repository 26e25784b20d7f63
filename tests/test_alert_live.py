"""Fired and resolved events are handed to realtime's ``publish_alert`` after commit."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.models import AlertEvent
from realtime import publish
from tests.alerting import PollDriver, make_rule, make_source

pytestmark = pytest.mark.django_db


def test_it_publishes_fired_and_resolved_events_after_commit(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    published: list[tuple[str, dict[str, Any]]] = []
    # publish_alert is realtime's (its branch adds it); this checks what alerting hands it.
    monkeypatch.setattr(publish, "publish_alert", lambda slug, event: published.append((slug, event)), raising=False)
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, resolve_after=1)
    polls = PollDriver(source)
    with django_capture_on_commit_callbacks(execute=True):
        polls.ok(cpu_load=99)
    assert len(published) == 1
    slug, event = published[0]
    assert slug == "us-east"
    fired = AlertEvent.objects.get()
    assert event == fired.as_dict() | {"source_alert_state": "degraded"}
    assert event["kind"] == "fired"
    with django_capture_on_commit_callbacks(execute=True):
        polls.ok(cpu_load=1)
    assert [(e["kind"], e["source_alert_state"]) for _, e in published] == [("fired", "degraded"), ("resolved", "ok")]


def test_it_keeps_evaluating_when_publishing_fails(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def broken(slug: str, event: dict[str, Any]) -> None:
        raise ConnectionError("channel layer down")

    monkeypatch.setattr(publish, "publish_alert", broken, raising=False)
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
    monkeypatch.setattr(publish, "publish_alert", lambda slug, event: published.append(event), raising=False)
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    with django_capture_on_commit_callbacks(execute=True):
        PollDriver(source).ok(cpu_load=99)
    assert published == []
