"""Snapshot texts shared by every connection's reply (realtime/snapshot_text.py): right and bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from metrics.stores.base import Snapshot
from observability.instruments import WEBSOCKET_ENCODES
from realtime import snapshot_text
from realtime.snapshot_text import reply_text


def a_snapshot(source: str, size: int) -> Snapshot:
    at = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    return Snapshot(
        source=source,
        hash="h",
        payload={"text": "x" * size},
        metrics={},
        fetched_at=at,
        last_seen_at=at,
        sequence=1,
        poll_meta={},
    )


def encodes() -> float:
    return float(WEBSOCKET_ENCODES.labels(type="snapshot")._value.get())


def test_it_holds_texts_of_at_most_max_chars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_text, "MAX_CHARS", 5_000)
    first, second = a_snapshot("bound-a", 3_000), a_snapshot("bound-b", 3_000)
    before = encodes()
    snapshot_text.snapshot_text(first)
    snapshot_text.snapshot_text(first)
    assert encodes() - before == 1  # held
    snapshot_text.snapshot_text(second)  # over the bound: the least recently sent goes
    assert sum(len(text) for _key, text in snapshot_text._latest.values()) <= 5_000
    snapshot_text.snapshot_text(second)
    assert encodes() - before == 2
    assert json.loads(snapshot_text.snapshot_text(first))["payload"] == first.payload
    assert encodes() - before == 3  # encoded again, not lost


def test_it_splices_the_texts_in_as_json_would_write_them() -> None:
    texts = [json.dumps({"source": "a"}), json.dumps({"source": "b"})]
    reply = {"type": "snapshot", "id": 3, "unchanged": [], "pending": ["c"]}
    assert json.loads(reply_text(reply, texts)) == {**reply, "snapshots": [{"source": "a"}, {"source": "b"}]}
    assert json.loads(reply_text({"type": "snapshot"}, [])) == {"type": "snapshot", "snapshots": []}
