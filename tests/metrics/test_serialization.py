"""metrics.serialization: the one JSON shape of snapshots, history entries, diffs and buckets, byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from metrics.serialization import (
    API_FORM,
    WEBSOCKET_FORM,
    JsonForm,
    bucket_json,
    change_entry_json,
    diff_json,
    history_entry_json,
    snapshot_json,
    time_json,
)
from metrics.stores.base import FieldChange, HistoryEntry, SeriesBucket, Snapshot

AT = datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
CHANGE = FieldChange("results.stats.server.cpu_load", 1.0, 2.0, "changed")
SNAPSHOT = Snapshot(
    source="us-east",
    hash="ab12",
    payload={"status": "ok"},
    metrics={"cpu_load": 2.0},
    fetched_at=AT,
    last_seen_at=AT + timedelta(seconds=30),
    sequence=3,
    poll_meta={"poll_id": "p-3"},
)
ENTRY = HistoryEntry(
    id="17",
    source="us-east",
    hash="ab12",
    payload={"status": "ok"},
    metrics={"cpu_load": 2.0},
    diff=[CHANGE],
    fetched_at=AT,
    sequence=3,
)


def text(data: Any) -> str:
    return json.dumps(data)


def test_it_writes_a_snapshot_as_the_api_and_the_websocket_send_it() -> None:
    common = '{"source": "us-east", "hash": "ab12", "sequence": 3, '
    assert text(snapshot_json(SNAPSHOT, with_payload=False)) == (
        common + '"fetched_at": "2026-01-01T12:00:00.500000Z", "last_seen_at": "2026-01-01T12:00:30.500000Z", '
        '"metrics": {"cpu_load": 2}}'  # the API writes a whole number as an integer (issue 16)
    )
    assert text(snapshot_json(SNAPSHOT, with_payload=True, form=WEBSOCKET_FORM)) == (
        common + '"fetched_at": "2026-01-01T12:00:00.500000+00:00", '
        '"last_seen_at": "2026-01-01T12:00:30.500000+00:00", "metrics": {"cpu_load": 2.0}, "payload": {"status": "ok"}}'
    )


def test_it_writes_a_diff_in_each_form_s_key_order() -> None:
    assert text(diff_json([CHANGE])) == (
        '[{"path": "results.stats.server.cpu_load", "kind": "changed", "old": 1.0, "new": 2.0}]'
    )
    assert text(diff_json([CHANGE], form=WEBSOCKET_FORM)) == (
        '[{"path": "results.stats.server.cpu_load", "old": 1.0, "new": 2.0, "kind": "changed"}]'
    )


def test_it_writes_history_entries_and_change_feed_items() -> None:
    assert text(history_entry_json(ENTRY)) == (
        '{"id": "17", "hash": "ab12", "sequence": 3, "fetched_at": "2026-01-01T12:00:00.500000Z", '
        '"metrics": {"cpu_load": 2}, "diff": [{"path": "results.stats.server.cpu_load", "kind": "changed", '
        '"old": 1.0, "new": 2.0}], "payload": {"status": "ok"}}'
    )
    live = history_entry_json(ENTRY, with_payload=False, form=WEBSOCKET_FORM)
    assert list(live) == ["id", "hash", "sequence", "fetched_at", "metrics", "diff"]
    assert live["fetched_at"] == "2026-01-01T12:00:00.500000+00:00"
    assert text(change_entry_json(ENTRY)) == (
        '{"id": "17", "hash": "ab12", "sequence": 3, "fetched_at": "2026-01-01T12:00:00.500000Z", '
        '"changes": [{"path": "results.stats.server.cpu_load", "kind": "changed", "old": 1.0, "new": 2.0}]}'
    )


def test_it_writes_a_series_bucket_and_every_api_time_in_utc() -> None:
    bucket = SeriesBucket(start=datetime(2026, 1, 1, 12, 5), min=1.0, avg=1.5, max=2.0, count=4)
    expected = '{"start": "2026-01-01T12:05:00Z", "min": 1, "avg": 1.5, "max": 2, "count": 4}'
    assert text(bucket_json(bucket)) == expected  # a naive time is read as UTC
    assert time_json(None) is None
    assert time_json(datetime(2026, 1, 1, 14, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-01T13:00:00Z"


def test_it_lets_another_reader_bring_its_own_time_format() -> None:
    export = JsonForm("export", lambda moment: moment.strftime("%Y%m%dT%H%M%S"), API_FORM.change_keys)
    data = history_entry_json(ENTRY, form=export)
    assert data["fetched_at"] == "20260101T120000"
    assert data["diff"] == [{"path": CHANGE.path, "kind": "changed", "old": 1.0, "new": 2.0}]
