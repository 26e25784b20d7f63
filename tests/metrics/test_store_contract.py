"""The MetricStore contract, run against every store on a real database: SQLite, PostgreSQL, MongoDB."""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metrics.extraction import canonical_json, diff_payloads
from metrics.lifecycle.retention import rollup_store
from metrics.stores.base import FieldChange, MetricStore, PayloadError, SeriesKey, SourceSpec, diff_to_json
from tests.any_store import reopened

# Two days ago on the hour: inside the MongoDB TTL window whenever the suite runs, and aligned
# to every bucket width the series tests use.
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
SPEC = SourceSpec(
    "us-east",
    metric_paths={"cpu": "stats.cpu", "online": "stats.online", "up": "services.*"},
    volatile_paths=("generated_at",),
)


def payload(cpu: float = 10.0, online: int = 5, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "status": "ok",
        "generated_at": "2026-11-29T12:00:00Z",
        "stats": {"cpu": cpu, "online": online},
        "services": {"redis": True, "database": True},
    }
    doc.update(extra)
    return doc


def all_history(store: MetricStore, source: str = SPEC.slug) -> list[Any]:
    entries, cursor = [], None
    while True:
        page = store.history(source, limit=100, cursor=cursor)
        entries.extend(page.entries)
        if page.next_cursor is None:
            return entries
        cursor = page.next_cursor


# --- record and change detection ----------------------------------------------------------


def test_it_records_a_first_payload_as_a_change(store: MetricStore) -> None:
    result = store.record(SPEC, payload(), T0, {"latency_ms": 12.5, "status_code": 200})
    assert result.changed is True
    assert result.sequence == 1
    assert result.diff == []
    assert result.metrics == {"cpu": 10.0, "online": 5.0, "up": 2.0}
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert (latest.hash, latest.payload, latest.metrics) == (result.hash, payload(), result.metrics)
    assert (latest.fetched_at, latest.last_seen_at, latest.sequence) == (T0, T0, 1)
    assert latest.poll_meta == {"latency_ms": 12.5, "status_code": 200}
    [entry] = all_history(store)
    assert (entry.sequence, entry.hash, entry.payload, entry.fetched_at) == (1, result.hash, payload(), T0)


def test_it_writes_one_history_entry_for_the_same_payload_twice_whatever_the_key_order(store: MetricStore) -> None:
    first = store.record(SPEC, payload(), T0, {"poll": 1})
    reordered = dict(reversed(list(payload().items())))
    reordered["stats"] = {"online": 5, "cpu": 10.0}
    second = store.record(SPEC, reordered, T0 + timedelta(seconds=30), {"poll": 2})
    assert second.changed is False
    assert second.hash == first.hash
    assert second.sequence == 1
    assert len(all_history(store)) == 1
    latest = store.latest(SPEC.slug)
    assert latest is not None
    # Only last_seen_at and the poll metadata move.
    assert (latest.fetched_at, latest.last_seen_at) == (T0, T0 + timedelta(seconds=30))
    assert latest.poll_meta == {"poll": 2}


def test_it_appends_a_history_entry_with_a_field_diff_on_change(store: MetricStore) -> None:
    store.record(SPEC, payload(), T0)
    changed = payload(cpu=55.5, services={"redis": False, "database": True}, region="us")
    result = store.record(SPEC, changed, T0 + timedelta(minutes=1))
    expected_diff = [
        FieldChange("region", None, "us", "added"),
        FieldChange("services.redis", True, False, "changed"),
        FieldChange("stats.cpu", 10.0, 55.5, "changed"),
    ]
    assert result.changed is True
    assert result.sequence == 2
    assert result.diff == expected_diff
    assert result.metrics == {"cpu": 55.5, "online": 5.0, "up": 1.0}
    newest, oldest = all_history(store)
    assert (newest.sequence, newest.payload, newest.diff, newest.metrics) == (2, changed, expected_diff, result.metrics)
    assert (oldest.sequence, oldest.diff) == (1, [])
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert (latest.sequence, latest.payload, latest.fetched_at) == (2, changed, T0 + timedelta(minutes=1))


def test_it_ignores_volatile_paths_for_change_detection(store: MetricStore) -> None:
    store.record(SPEC, payload(), T0)
    result = store.record(SPEC, payload(generated_at="2026-11-29T12:00:30Z"), T0 + timedelta(seconds=30))
    assert result.changed is False
    assert len(all_history(store)) == 1
    result = store.record(SPEC, payload(online=6, generated_at="later"), T0 + timedelta(seconds=60))
    assert result.changed is True
    assert result.diff == [FieldChange("stats.online", 5, 6, "changed")]


def test_it_ignores_a_stale_record_older_than_the_latest(store: MetricStore) -> None:
    store.record(SPEC, payload(cpu=1), T0 + timedelta(minutes=5))
    result = store.record(SPEC, payload(cpu=2), T0)
    assert result.changed is False
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert latest.payload["stats"]["cpu"] == 1
    assert len(all_history(store)) == 1


def test_it_returns_every_latest_snapshot_at_once(store: MetricStore) -> None:
    assert store.latest_all() == {}
    assert store.latest("nowhere") is None
    for index, slug in enumerate(["eu-west", "us-east", "ap-southeast"]):
        store.record(SourceSpec(slug, metric_paths=SPEC.metric_paths), payload(cpu=index), T0)
    snapshots = store.latest_all()
    assert sorted(snapshots) == ["ap-southeast", "eu-west", "us-east"]
    assert snapshots["us-east"].metrics["cpu"] == 1.0
    assert snapshots["ap-southeast"].payload == payload(cpu=2)


def test_it_returns_the_latest_snapshots_of_the_sources_asked_and_no_others(store: MetricStore) -> None:
    assert store.latest_of([]) == {}
    assert store.latest_of(["us-east"]) == {}
    for index, slug in enumerate(["eu-west", "us-east", "ap-southeast"]):
        store.record(SourceSpec(slug, metric_paths=SPEC.metric_paths), payload(cpu=index), T0)
    # Unknown sources are left out, duplicates asked once, any iterable will do.
    found = store.latest_of(slug for slug in ["us-east", "nowhere", "ap-southeast", "us-east"])
    assert sorted(found) == ["ap-southeast", "us-east"]
    assert found == {slug: store.latest(slug) for slug in ("us-east", "ap-southeast")}
    assert found["us-east"].metrics["cpu"] == 1.0
    # What changes in the latest snapshot shows: an unchanged poll's last_seen_at, a change, a deletion.
    store.record(SourceSpec("us-east", metric_paths=SPEC.metric_paths), payload(cpu=1), T0 + timedelta(seconds=30))
    assert store.latest_of(["us-east"])["us-east"].last_seen_at == T0 + timedelta(seconds=30)
    store.record(SourceSpec("us-east", metric_paths=SPEC.metric_paths), payload(cpu=7), T0 + timedelta(minutes=1))
    assert store.latest_of(["us-east"])["us-east"].sequence == 2
    store.delete_source("eu-west")
    assert store.latest_of(["eu-west", "us-east"]).keys() == {"us-east"}


def test_it_reads_the_latest_of_more_sources_than_one_statement_takes(store: MetricStore) -> None:
    recorded = ["eu-west", "us-east"]
    for slug in recorded:
        store.record(SourceSpec(slug), payload(), T0)
    # Past LATEST_OF_CHUNK and past the 999 parameters older SQLite builds allow in one statement.
    asked = [f"gone-{n:04d}" for n in range(1200)]
    asked[3], asked[1100] = recorded
    assert store.latest_of(asked) == store.latest_all()


def test_it_refuses_one_string_for_the_sources_of_latest_of(store: MetricStore) -> None:
    store.record(SPEC, payload(), T0)
    with pytest.raises(TypeError, match="iterable of source slugs"):
        store.latest_of(SPEC.slug)


def test_it_rejects_a_naive_fetched_at(store: MetricStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record(SPEC, payload(), datetime(2026, 1, 1))
    assert store.latest(SPEC.slug) is None


# --- numbers as the upstream wrote them ----------------------------------------------------
# Doubles PostgreSQL's jsonb printed back as integers (1e16 and up) or as another double (-0.0 as 0.0), integers
# past BSON's int64, and 1 beside 1.0: different JSON, which the diff tells apart.
NUMBERS: dict[str, Any] = {
    "double_2_64": 1.8446744073709552e19,
    "double_1e16": 1e16,
    "double_1e300": 1e300,
    "negative_zero": -0.0,
    "one_double": 1.0,
    "one": 1,
    "int_past_int64": 12345678901234567890,
    "negative_past_int64": -12345678901234567890,
    "tiny": 1.5e-07,
}
NUMBERS_SPEC = SourceSpec(
    "numbers",
    metric_paths={"counter": "numbers.double_2_64", "total": "numbers.int_past_int64", "cpu": "stats.cpu"},
    volatile_paths=("generated_at",),
)


def numbers_payload(**extra: Any) -> dict[str, Any]:
    return payload(**{"numbers": dict(NUMBERS), **extra})


def written(value: Any) -> str:
    """The JSON text of ``value``: it tells 1 from 1.0, -0.0 from 0.0 and a double from an integer, where ``==``
    takes 18446744073709552000 for 1.8446744073709552e19."""
    return canonical_json(value)


def test_it_reads_a_document_back_with_the_numbers_the_upstream_sent(store: MetricStore) -> None:
    sent = numbers_payload()
    result = store.record(NUMBERS_SPEC, sent, T0)
    assert written(result.metrics) == written(
        {"counter": 1.8446744073709552e19, "total": 1.2345678901234567e19, "cpu": 10.0}
    )
    # The writer, and a restarted process that reads everything from the database.
    for reader in (store, reopened(store)):
        latest = reader.latest(NUMBERS_SPEC.slug)
        assert latest is not None
        assert written(latest.payload) == written(sent)
        assert written(latest.metrics) == written(result.metrics)
        assert written(reader.latest_all()[NUMBERS_SPEC.slug].payload) == written(sent)
        assert written(reader.latest_of([NUMBERS_SPEC.slug])[NUMBERS_SPEC.slug].payload) == written(sent)
        [entry] = all_history(reader, NUMBERS_SPEC.slug)
        assert (written(entry.payload), written(entry.metrics)) == (written(sent), written(result.metrics))


def test_it_stores_no_change_and_no_false_field_for_a_document_read_back_after_a_restart(store: MetricStore) -> None:
    slug = NUMBERS_SPEC.slug
    store.record(NUMBERS_SPEC, numbers_payload(), T0)
    same = reopened(store).record(NUMBERS_SPEC, numbers_payload(), T0 + timedelta(seconds=30))
    assert (same.changed, same.sequence) == (False, 1)
    # The stored document recorded again, as the poller does on a 304 answer (pollers.conditional).
    restarted = reopened(store)
    stored = restarted.latest(slug)
    assert stored is not None
    again = restarted.record(NUMBERS_SPEC, stored.payload, T0 + timedelta(seconds=60))
    assert (again.changed, again.sequence) == (False, 1)
    # Another field changes: the change is diffed against the document read back under the lock.
    changed = reopened(store).record(NUMBERS_SPEC, numbers_payload(status="degraded"), T0 + timedelta(seconds=90))
    assert (changed.changed, changed.sequence) == (True, 2)
    assert changed.diff == [FieldChange("status", "ok", "degraded", "changed")]
    assert all_history(reopened(store), slug)[0].diff == changed.diff
    # One of the numbers changes: its old and new values read back as written.
    numbers = {**NUMBERS, "double_2_64": 2.5e19}
    moved = reopened(store).record(
        NUMBERS_SPEC, numbers_payload(status="degraded", numbers=numbers), T0 + timedelta(seconds=120)
    )
    expected = [{"path": "numbers.double_2_64", "old": 1.8446744073709552e19, "new": 2.5e19, "kind": "changed"}]
    assert written(diff_to_json(moved.diff)) == written(expected)
    assert written(diff_to_json(all_history(reopened(store), slug)[0].diff)) == written(expected)
    assert len(all_history(store, slug)) == 3


# --- bad payloads lose nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([1, 2, 3], "must be a JSON object, got an array"),
        ("ok", "must be a JSON object, got a string"),
        ({"stats": {"cpu": float("nan")}}, r"nan.* at stats\.cpu"),
        ({"stats": {"cpu": float("inf")}}, r"inf.* at stats\.cpu"),
        ({"blob": "x" * 5000}, "over the 4096-byte limit"),
    ],
)
def test_it_refuses_a_bad_payload_and_keeps_what_was_stored(
    store: MetricStore, settings: Any, bad: Any, message: str
) -> None:
    settings.METRICS_MAX_PAYLOAD_BYTES = 4096
    store.record(SPEC, payload(), T0)
    before_latest = store.latest(SPEC.slug)
    with pytest.raises(PayloadError, match=message):
        store.record(SPEC, bad, T0 + timedelta(minutes=1))
    assert store.latest(SPEC.slug) == before_latest
    assert [e.sequence for e in all_history(store)] == [1]
    assert store.stats().history_count == 1


# --- history ------------------------------------------------------------------------------


def record_changes(store: MetricStore, count: int, source: SourceSpec = SPEC, step: timedelta = timedelta(minutes=1)):  # type: ignore[no-untyped-def]
    return [store.record(source, payload(cpu=float(i)), T0 + i * step) for i in range(count)]


def test_it_pages_history_newest_first_and_stably_under_inserts(store: MetricStore) -> None:
    record_changes(store, 7)
    first = store.history(SPEC.slug, limit=3)
    assert [e.sequence for e in first.entries] == [7, 6, 5]
    assert first.next_cursor is not None
    # Changes recorded between two page reads must not shift or repeat entries on later pages.
    store.record(SPEC, payload(cpu=100.0), T0 + timedelta(hours=1))
    second = store.history(SPEC.slug, limit=3, cursor=first.next_cursor)
    assert [e.sequence for e in second.entries] == [4, 3, 2]
    third = store.history(SPEC.slug, limit=3, cursor=second.next_cursor)
    assert [e.sequence for e in third.entries] == [1]
    assert third.next_cursor is None
    assert [e.sequence for e in store.history(SPEC.slug, limit=3).entries] == [8, 7, 6]
    assert len({e.id for e in first.entries + second.entries + third.entries}) == 7


def test_it_filters_history_by_time_start_inclusive_end_exclusive(store: MetricStore) -> None:
    record_changes(store, 6)
    page = store.history(SPEC.slug, start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5))
    assert [e.fetched_at for e in page.entries] == [T0 + timedelta(minutes=m) for m in (4, 3, 2)]
    paged = store.history(SPEC.slug, start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5), limit=2)
    rest = store.history(
        SPEC.slug, start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5), limit=2, cursor=paged.next_cursor
    )
    assert [e.sequence for e in paged.entries + rest.entries] == [5, 4, 3]
    assert rest.next_cursor is None


def test_it_keeps_sources_apart_in_history(store: MetricStore) -> None:
    record_changes(store, 3)
    other = SourceSpec("eu-west", metric_paths=SPEC.metric_paths)
    record_changes(store, 2, source=other)
    assert [e.source for e in all_history(store, "eu-west")] == ["eu-west", "eu-west"]
    assert [e.sequence for e in all_history(store)] == [3, 2, 1]
    assert store.history("nowhere").entries == []


def test_it_pages_history_in_sequence_order_after_a_sequence(store: MetricStore) -> None:
    record_changes(store, 4)
    store.record(SourceSpec("eu-west"), payload(), T0)
    newest_first = all_history(store)
    assert store.history_in_order(SPEC.slug) == list(reversed(newest_first))  # the same entries, ids and all
    # An entry fetched before the others (imported from elsewhere): the order is the sequence's, not the time's.
    late = replace(newest_first[0], sequence=5, fetched_at=T0 - timedelta(hours=1))
    rollup_store(store).restore_history([late])
    assert [e.sequence for e in all_history(store)] == [4, 3, 2, 1, 5]
    assert [e.sequence for e in store.history_in_order(SPEC.slug)] == [1, 2, 3, 4, 5]
    assert [e.sequence for e in store.history_in_order(SPEC.slug, after=1, limit=2)] == [2, 3]
    assert [e.sequence for e in store.history_in_order(SPEC.slug, after=3, limit=2)] == [4, 5]
    assert store.history_in_order(SPEC.slug, after=5) == []
    assert store.history_in_order("nowhere") == []
    assert [e.source for e in store.history_in_order("eu-west")] == ["eu-west"]
    with pytest.raises(ValueError, match="limit must be a positive whole number"):
        store.history_in_order(SPEC.slug, limit=0)


def test_it_lists_the_sources_with_a_latest_snapshot_in_code_point_order(store: MetricStore) -> None:
    assert store.latest_sources() == []
    # A collation other than C (PostgreSQL's en_US) sorts these otherwise; the list is Python's order.
    for slug in ("ab", "a_b", "a-b", "B", "eu-west"):
        store.record(SourceSpec(slug), payload(), T0)
    store.record(SourceSpec("gone"), payload(), T0)
    store.delete_source("gone")
    assert store.latest_sources() == ["B", "a-b", "a_b", "ab", "eu-west"]
    assert store.latest_sources() == sorted(store.latest_all())


def test_it_reads_every_latest_head_without_the_documents(store: MetricStore) -> None:
    assert store.latest_heads() == {}
    store.record(SPEC, payload(), T0, {"poll": 1})
    store.record(SPEC, payload(cpu=20.0), T0 + timedelta(minutes=1), {"poll": 2})
    store.record(SPEC, payload(cpu=20.0), T0 + timedelta(minutes=2), {"poll": 3})
    store.record(SourceSpec("eu-west"), {"status": "ok"}, T0)
    store.record(SourceSpec("gone"), payload(), T0)
    store.delete_source("gone")
    heads = store.latest_heads()
    assert sorted(heads) == ["eu-west", "us-east"]
    for slug, snapshot in store.latest_all().items():
        head = heads[slug]
        assert (head.source, head.hash, head.metrics, head.sequence) == (
            snapshot.source,
            snapshot.hash,
            snapshot.metrics,
            snapshot.sequence,
        )
        assert (head.fetched_at, head.last_seen_at) == (snapshot.fetched_at, snapshot.last_seen_at)
    us_east = heads["us-east"]
    assert (us_east.sequence, us_east.metrics["cpu"]) == (2, 20.0)
    assert (us_east.fetched_at, us_east.last_seen_at) == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))


@pytest.mark.parametrize("cursor", ["garbage", "", "aDE6eHl6OjE", "x" * 500, "aDE6MTox"[:-1] + "!"])
def test_it_refuses_a_bad_cursor_with_a_clear_error(store: MetricStore, cursor: str) -> None:
    record_changes(store, 2)
    with pytest.raises(ValueError, match="invalid history cursor"):
        store.history(SPEC.slug, cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1])
def test_it_refuses_a_bad_limit(store: MetricStore, limit: int) -> None:
    with pytest.raises(ValueError, match="limit must be a positive whole number"):
        store.history(SPEC.slug, limit=limit)


# --- series -------------------------------------------------------------------------------


def test_it_buckets_a_series_in_the_database_with_known_numbers(store: MetricStore) -> None:
    # Bucket starts are multiples of the width since the epoch: 12:00, 12:05, 12:10 for 5 minutes.
    points = [(0, 10.0), (60, 20.0), (299, 60.0), (300, 5.0), (900, 1.0), (901, 3.0), (1200, 99.0)]
    for index, (second, cpu) in enumerate(points):
        store.record(SPEC, payload(cpu=cpu, online=index), T0 + timedelta(seconds=second))
    buckets = store.series(SPEC.slug, "cpu", T0, T0 + timedelta(seconds=1200), timedelta(minutes=5))
    assert [(b.start, b.min, b.avg, b.max, b.count) for b in buckets] == [
        (T0, 10.0, 30.0, 60.0, 3),
        (T0 + timedelta(minutes=5), 5.0, 5.0, 5.0, 1),
        (T0 + timedelta(minutes=15), 1.0, 2.0, 3.0, 2),
    ]
    # Start is inclusive, end exclusive; buckets align to the epoch whatever the start.
    shifted = store.series(
        SPEC.slug, "cpu", T0 + timedelta(seconds=60), T0 + timedelta(seconds=300), timedelta(minutes=5)
    )
    assert [(b.start, b.min, b.max, b.count) for b in shifted] == [(T0, 20.0, 60.0, 2)]


def test_it_returns_no_buckets_for_an_unknown_metric_or_source(store: MetricStore) -> None:
    record_changes(store, 3)
    end = T0 + timedelta(hours=1)
    assert store.series(SPEC.slug, "nope", T0, end, timedelta(minutes=1)) == []
    assert store.series("nowhere", "cpu", T0, end, timedelta(minutes=1)) == []


def test_it_leaves_unchanged_polls_out_of_the_series(store: MetricStore) -> None:
    store.record(SPEC, payload(cpu=7.0), T0)
    store.record(SPEC, payload(cpu=7.0), T0 + timedelta(seconds=10))
    [bucket] = store.series(SPEC.slug, "cpu", T0, T0 + timedelta(minutes=1), timedelta(minutes=1))
    assert (bucket.count, bucket.avg) == (1, 7.0)


def test_it_leaves_out_a_series_bucket_whose_sum_is_beyond_a_float_as_rollups_do(store: MetricStore) -> None:
    # Two samples near 1e308 in one chart bucket: PostgreSQL's float8 AVG raised "value out of range: overflow"
    # (the chart and the API's series answered an error); rollups leave such a bucket out, and so does the raw tier.
    for second, cpu in ((0, 1e308), (30, 1.5e308), (300, 10.0), (330, 20.0)):
        store.record(SPEC, payload(cpu=cpu), T0 + timedelta(seconds=second))
    end, width = T0 + timedelta(hours=1), timedelta(minutes=5)
    expected = [(T0 + timedelta(minutes=5), 10.0, 15.0, 20.0, 2)]
    buckets = store.series(SPEC.slug, "cpu", T0, end, width)
    assert [(b.start, b.min, b.avg, b.max, b.count) for b in buckets] == expected
    key = SeriesKey(SPEC.slug, "cpu")
    many = store.series_many([key], T0, end, width, "raw")[key]
    assert [(b.start, b.min, b.avg, b.max, b.count) for b in many] == expected


def test_it_leaves_out_a_rollup_tier_bucket_whose_sum_is_beyond_a_float(store: MetricStore) -> None:
    from metrics.lifecycle.retention import roll_up

    # Minutes of their own (each rolled up), one hour of a chart: the hour's sum is beyond a float. The last
    # two are not rolled up yet: read from raw history in the same call, and summed beyond a float too.
    for minute, cpu in ((0, 1e308), (1, 1.5e308), (60, 10.0), (61, 20.0)):
        store.record(SPEC, payload(cpu=cpu), T0 + timedelta(minutes=minute))
    roll_up(rollup_store(store), SPEC.slug)
    for minute, cpu in ((120, 1e308), (121, 1.5e308)):
        store.record(SPEC, payload(cpu=cpu), T0 + timedelta(minutes=minute))
    key = SeriesKey(SPEC.slug, "cpu")
    found = store.series_many([key], T0, T0 + timedelta(hours=3), timedelta(hours=1), "1m")[key]
    assert [(b.start, b.min, b.avg, b.max, b.count) for b in found] == [(T0 + timedelta(hours=1), 10.0, 15.0, 20.0, 2)]


@pytest.mark.parametrize(
    ("bucket", "end", "message"),
    [
        (timedelta(milliseconds=500), timedelta(hours=1), "whole number of seconds"),
        (timedelta(seconds=0), timedelta(hours=1), "whole number of seconds"),
        (timedelta(minutes=1), timedelta(0), "must be after start"),
        (timedelta(seconds=1), timedelta(days=400), "over 100000"),
    ],
)
def test_it_refuses_a_series_that_makes_no_sense(
    store: MetricStore, bucket: timedelta, end: timedelta, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.series(SPEC.slug, "cpu", T0, T0 + end, bucket)


# --- series_many: several series from one tier in one round trip --------------------------


def test_it_reads_several_raw_series_at_once_as_series_does(store: MetricStore) -> None:
    other = SourceSpec("eu-west", metric_paths=SPEC.metric_paths)
    for index, second in enumerate((0, 60, 299, 300, 900)):
        store.record(SPEC, payload(cpu=float(index), online=index * 10), T0 + timedelta(seconds=second))
        store.record(other, payload(cpu=float(index * 2)), T0 + timedelta(seconds=second + 5))
    end, width = T0 + timedelta(hours=1), timedelta(minutes=5)
    keys = [SeriesKey("us-east", "cpu"), SeriesKey("us-east", "online"), SeriesKey("eu-west", "cpu")]
    found = store.series_many([*keys, SeriesKey("eu-west", "nope"), SeriesKey("nowhere", "cpu")], T0, end, width, "raw")
    for key in keys:
        assert found[key] == store.series(key.source, key.metric, T0, end, width)
    assert found[SeriesKey("us-east", "cpu")][0].count == 3
    assert found[SeriesKey("eu-west", "nope")] == found[SeriesKey("nowhere", "cpu")] == []
    assert SeriesKey("eu-west", "online") not in found  # not asked for, though its source and metric were


def test_it_reads_a_rollup_tier_and_the_samples_not_rolled_up_yet(store: MetricStore) -> None:
    from metrics.lifecycle.retention import roll_up, rollup_store

    for minute in range(0, 120, 10):  # 12 samples over two hours, rolled up
        store.record(SPEC, payload(cpu=float(minute)), T0 + timedelta(minutes=minute))
    roll_up(rollup_store(store), SPEC.slug)
    for minute in (125, 135):  # not rolled up yet: read from raw history in the same call
        store.record(SPEC, payload(cpu=float(minute)), T0 + timedelta(minutes=minute))
    key = SeriesKey(SPEC.slug, "cpu")
    found = store.series_many([key], T0, T0 + timedelta(hours=3), timedelta(hours=1), "1h")[key]
    assert [(b.start, b.min, b.max, b.count) for b in found] == [
        (T0, 0.0, 50.0, 6),
        (T0 + timedelta(hours=1), 60.0, 110.0, 6),
        (T0 + timedelta(hours=2), 125.0, 135.0, 2),
    ]
    assert found[0].avg == 25.0
    # Rolled up again, the same numbers: nothing is counted twice.
    roll_up(rollup_store(store), SPEC.slug)
    assert store.series_many([key], T0, T0 + timedelta(hours=3), timedelta(hours=1), "1h")[key] == found


def test_it_reads_a_rollup_tier_up_to_now_as_series_reads_raw_history(store: MetricStore) -> None:
    """A board's range ends now: the samples since the last rollup run are minutes old (MongoDB reads them in
    the same command as the buckets, metrics.stores.mongo.TAIL_WINDOW), and every sample counts once."""
    from metrics.lifecycle.retention import roll_up, rollup_store

    now = datetime.now(UTC).replace(microsecond=0)
    first = now.replace(minute=0, second=0) - timedelta(hours=2)
    for minute in range(0, 120, 10):  # up to 10 minutes before the current hour, rolled up
        store.record(SPEC, payload(cpu=float(minute)), first + timedelta(minutes=minute))
    roll_up(rollup_store(store), SPEC.slug)
    for ago, cpu in ((120, 500.0), (60, 7.0)):  # since the rollup run
        store.record(SPEC, payload(cpu=cpu), now - timedelta(seconds=ago))
    key, end, hour = SeriesKey(SPEC.slug, "cpu"), now + timedelta(seconds=1), timedelta(hours=1)
    found = store.series_many([key], first, end, hour, "1h")[key]
    raw = store.series(SPEC.slug, "cpu", first, end, hour)
    assert [(b.start, b.min, b.max, b.count) for b in found] == [(b.start, b.min, b.max, b.count) for b in raw]
    assert [b.avg for b in found] == pytest.approx([b.avg for b in raw])
    assert sum(b.count for b in found) == 14
    assert max(b.max for b in found) == 500.0


@pytest.mark.parametrize(
    ("tier", "bucket", "count", "message"),
    [
        ("5m", timedelta(hours=1), 1, "tier must be one of"),
        ("1h", timedelta(minutes=30), 1, "multiple of the 1h tier"),
        ("raw", timedelta(minutes=1), 201, "at most 200 series"),
        ("raw", timedelta(seconds=0), 1, "whole number of seconds"),
    ],
)
def test_it_refuses_a_series_many_that_makes_no_sense(
    store: MetricStore, tier: str, bucket: timedelta, count: int, message: str
) -> None:
    keys = [SeriesKey(f"s{index}", "cpu") for index in range(count)]
    with pytest.raises(ValueError, match=message):
        store.series_many(keys, T0, T0 + timedelta(days=1), bucket, tier)


# --- prune, delete, stats -----------------------------------------------------------------


def test_it_prunes_old_history_but_never_the_latest_snapshot(store: MetricStore) -> None:
    record_changes(store, 5)
    other = SourceSpec("eu-west", metric_paths=SPEC.metric_paths)
    record_changes(store, 3, source=other)
    assert store.prune(SPEC.slug, T0 + timedelta(minutes=3)) == 3
    assert [e.sequence for e in all_history(store)] == [5, 4]
    assert len(all_history(store, "eu-west")) == 3
    series = store.series(SPEC.slug, "cpu", T0, T0 + timedelta(hours=1), timedelta(minutes=1))
    assert [b.start for b in series] == [T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)]
    # Everything older than everything: history goes, the latest snapshots stay.
    assert store.prune(None, T0 + timedelta(days=1)) == 5
    assert all_history(store) == []
    assert sorted(store.latest_all()) == ["eu-west", "us-east"]
    # The next record still compares against the kept latest snapshot.
    assert store.record(SPEC, payload(cpu=4.0), T0 + timedelta(days=2)).changed is False
    assert store.record(SPEC, payload(cpu=5.0), T0 + timedelta(days=2)).sequence == 6


def test_it_deletes_a_source_entirely(store: MetricStore) -> None:
    record_changes(store, 3)
    other = SourceSpec("eu-west", metric_paths=SPEC.metric_paths)
    record_changes(store, 2, source=other)
    store.delete_source(SPEC.slug)
    assert store.latest(SPEC.slug) is None
    assert all_history(store) == []
    assert store.series(SPEC.slug, "cpu", T0, T0 + timedelta(hours=1), timedelta(minutes=1)) == []
    assert store.latest("eu-west") is not None
    # A source recreated with the same slug starts over.
    assert store.record(SPEC, payload(), T0 + timedelta(days=1)).sequence == 1


def test_it_reports_stats(store: MetricStore) -> None:
    empty = store.stats()
    assert (empty.history_count, empty.latest_count, empty.oldest, empty.newest) == (0, 0, None, None)
    record_changes(store, 4)
    store.record(SourceSpec("eu-west"), payload(), T0 + timedelta(hours=2))
    stats = store.stats()
    assert stats.backend == store.backend
    assert (stats.history_count, stats.latest_count) == (5, 2)
    assert (stats.oldest, stats.newest) == (T0, T0 + timedelta(hours=2))
    assert stats.size_bytes is None or stats.size_bytes > 0


# --- concurrency --------------------------------------------------------------------------


def test_it_never_interleaves_concurrent_records_of_one_source(store: MetricStore) -> None:
    """Threads record the same source at once: every change gets its own sequence and a diff
    against exactly the content it replaced, and latest is the last change."""
    from django.db import connections

    threads_count, per_thread = 6, 8
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_count)

    def writer(number: int) -> None:
        try:
            barrier.wait()
            for step in range(per_thread):
                result = store.record(SPEC, payload(cpu=float(number), online=step, writer=number), T0)
                with lock:
                    results.append(result)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    changed = sorted(r.sequence for r in results if r.changed)
    history = sorted(all_history(store), key=lambda e: e.sequence)
    assert changed == list(range(1, len(history) + 1))
    assert len(history) > threads_count  # writers really alternated
    for previous, current in itertools.pairwise(history):
        assert current.diff == diff_payloads(previous.payload, current.payload, SPEC.volatile_paths)
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert (latest.sequence, latest.payload) == (history[-1].sequence, history[-1].payload)


def test_it_keeps_the_payload_it_was_given_unmodified(store: MetricStore) -> None:
    original = payload()
    kept = copy.deepcopy(original)
    store.record(SPEC, original, T0)
    assert original == kept


@pytest.mark.parametrize(
    ("meta", "message"), [(["x"], "poll_meta must be a JSON object"), ({"latency": float("nan")}, "poll_meta")]
)
def test_it_refuses_bad_poll_metadata_and_keeps_what_was_stored(store: MetricStore, meta: Any, message: str) -> None:
    store.record(SPEC, payload(), T0, {"ok": True})
    with pytest.raises(PayloadError, match=message):
        store.record(SPEC, payload(cpu=99.0), T0 + timedelta(minutes=1), meta)
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert (latest.sequence, latest.poll_meta) == (1, {"ok": True})


def test_it_hands_over_the_diff_it_stored_in_its_json_form(store: MetricStore) -> None:
    store.record(SPEC, payload(cpu=10.0, online=5), T0)
    # The first change diffs against the document this store remembers; the second, in a store that
    # remembers nothing, against the row it reads: each path hands over the list it wrote.
    remembered = store.record(SPEC, payload(cpu=20.0, online=6), T0 + timedelta(minutes=1))
    read = reopened(store).record(SPEC, payload(cpu=30.0, online=7), T0 + timedelta(minutes=2))
    history = {entry.sequence: entry for entry in all_history(store)}
    for result in (remembered, read):
        assert result.diff_dicts is not None, "the store made the diff's JSON form and kept it"
        assert result.diff_json() is result.diff_dicts
        assert result.diff_dicts == diff_to_json(history[result.sequence].diff) == diff_to_json(result.diff)
