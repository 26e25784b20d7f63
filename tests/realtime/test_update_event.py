"""The update event a changed poll becomes: its diff is the list the store wrote, not made a second time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metrics import serialization
from metrics.serialization import WEBSOCKET_FORM, diff_json
from metrics.stores import base
from metrics.stores.base import MetricStore
from pollers.models import Source
from realtime.events import update_event
from tests.realtime.conftest import status_payload


def test_it_sends_the_diff_the_store_wrote_without_making_it_again(
    store: MetricStore, sources: list[Source], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = sources[0]
    at = datetime.now(UTC) - timedelta(minutes=1)
    store.record(source.spec(), status_payload(cpu_load=41.7, online=57), at)
    result = store.record(source.spec(), status_payload(cpu_load=55.0, online=60), at + timedelta(seconds=30))
    assert result.changed
    assert len(result.diff) >= 2

    made: list[str] = []
    real_change_json, real_diff_to_json = serialization.change_json, base.diff_to_json

    def counted_change_json(*args: Any, **kwargs: Any) -> Any:
        made.append("change_json")
        return real_change_json(*args, **kwargs)

    def counted_diff_to_json(*args: Any, **kwargs: Any) -> Any:
        made.append("diff_to_json")
        return real_diff_to_json(*args, **kwargs)

    monkeypatch.setattr(serialization, "change_json", counted_change_json)
    monkeypatch.setattr(base, "diff_to_json", counted_diff_to_json)
    event = update_event(source.slug, result, at + timedelta(seconds=30), "poll-1", None)

    assert made == []  # the event's diff is the store's list: no change made into a dict again
    assert event["diff"] is result.diff_dicts
    [entry] = store.history(source.slug, limit=1).entries
    assert entry.sequence == result.sequence
    assert event["diff"] == diff_json(entry.diff, form=WEBSOCKET_FORM)  # the WebSocket says what was stored
