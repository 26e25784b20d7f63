"""export_metrics / import_metrics: export, wipe, import, export again gives identical files, in
every store and across stores; a bad file imports nothing."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from metrics import jsonlimits
from metrics.extraction import canonical_json, diff_payloads
from metrics.lifecycle import transfer
from metrics.lifecycle.records import RecordFormatError, iso
from metrics.lifecycle.retention import roll_up, rollup_store
from metrics.lifecycle.transfer import EXPORT_PAGE, export_lines, import_lines, validate, write_export
from metrics.stores.base import HistoryEntry, MetricStore, SourceSpec
from tests.any_store import open_store

T0 = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
SPECS = [
    SourceSpec("us-east", metric_paths={"cpu": "stats.cpu", "up": "services.redis"}, volatile_paths=("ts",)),
    SourceSpec("eu-west", metric_paths={"cpu": "stats.cpu"}),
]


def fill(store: MetricStore) -> None:
    for number in range(12):
        for spec in SPECS:
            payload = {
                "stats": {"cpu": number * 1.5, "label": f"n{number % 4}"},
                "services": {"redis": number % 3 != 0},
                "ts": number,
                "nested": {"list": [1, {"a": None}], "unicode": "žluťoučký"},
            }
            store.record(spec, payload, T0 + timedelta(minutes=7 * number), poll_meta={"poll_id": f"p{number}"})
    # An unchanged poll moves last_seen_at and poll_meta only: the export must carry them.
    store.record(SPECS[0], payload, T0 + timedelta(hours=3), poll_meta={"poll_id": "last"})
    for spec in SPECS:
        roll_up(rollup_store(store), spec.slug)


def export(store: MetricStore) -> str:
    handle = io.StringIO()
    write_export(store, handle)
    return handle.getvalue()


def wipe(store: MetricStore) -> None:
    for spec in SPECS:
        store.delete_source(spec.slug)


def test_it_round_trips_a_store_to_identical_files(store: MetricStore) -> None:
    fill(store)
    first = export(store)
    kinds = [json.loads(line)["kind"] for line in first.splitlines()]
    assert kinds[0] == "header"
    assert kinds.count("latest") == 2
    assert kinds.count("history") == 24
    assert kinds.count("rollup") > 0

    wipe(store)
    assert export(store).splitlines() == [first.splitlines()[0]]  # empty but for the header
    assert validate(first.splitlines()) == len(kinds)
    result = import_lines(store, first.splitlines())
    assert (result.latest, result.history_added) == (2, 24)
    assert export(store) == first

    # What was imported works like recorded data: latest, history pages, series.
    latest = store.latest("us-east")
    assert latest is not None
    assert latest.poll_meta == {"poll_id": "last"}
    assert latest.last_seen_at == T0 + timedelta(hours=3)
    assert len(store.history("us-east", limit=100).entries) == 12
    series = store.series("eu-west", "cpu", T0, T0 + timedelta(hours=2), timedelta(hours=1))
    assert sum(b.count for b in series) == 12


def test_it_imports_twice_without_duplicates(store: MetricStore) -> None:
    fill(store)
    first = export(store)
    again = import_lines(store, first.splitlines())
    assert again.history_added == 0
    assert export(store) == first


def test_it_keeps_newer_stored_content_over_an_older_import(store: MetricStore) -> None:
    fill(store)
    first = export(store)
    store.record(SPECS[1], {"stats": {"cpu": 99.0}}, T0 + timedelta(hours=5))
    import_lines(store, first.splitlines())
    latest = store.latest("eu-west")
    assert latest is not None
    assert latest.metrics == {"cpu": 99.0}


def test_it_rewinds_nothing_when_an_older_export_is_imported_over_a_grown_store(store: MetricStore) -> None:
    """Import upserted rollup buckets: a bucket grown since the export (more samples, a new max) went back to the
    file's smaller one; and a latest snapshot seen again since (same sequence) went back to its older sighting."""
    fill(store)
    older = export(store)
    # Since the export: a sample with a new max in buckets the file holds (the hour and the day), a new change
    # of eu-west, and us-east seen again unchanged (same sequence, later last_seen_at and poll meta).
    store.record(SPECS[1], {"stats": {"cpu": 500.0}}, T0 + timedelta(minutes=78))
    store.record(SPECS[0], {**store.latest("us-east").payload, "ts": 99}, T0 + timedelta(hours=4), {"poll_id": "x"})  # type: ignore[union-attr]
    roll_up(rollup_store(store), "eu-west")
    grown = export(store)
    hours = {
        (record["start"], record["count"], record["max"])
        for record in map(json.loads, grown.splitlines())
        if record.get("tier") == "1h" and record["source"] == "eu-west"
    }
    # The second hour held 3 samples (63, 70 and 77 minutes) in the file; the store's now holds a fourth.
    assert (iso(T0 + timedelta(hours=1)), 4, 500.0) in hours

    result = import_lines(store, older.splitlines())

    assert export(store) == grown
    rollups = sum(1 for line in older.splitlines() if '"kind":"rollup"' in line)
    assert (result.latest, result.latest_kept) == (0, 2)
    assert (result.history_added, result.history_kept) == (0, 24)
    assert (result.rollups, result.rollups_kept, result.rollups_read) == (0, rollups, rollups)


def test_it_adds_what_the_store_lacks_and_a_newer_latest(store: MetricStore) -> None:
    fill(store)
    full = export(store)
    lines = full.splitlines()
    # A store that holds only part of it: the first half of eu-west's history and no rollups, and an older latest.
    wipe(store)
    partial = [
        line
        for line in lines
        if '"kind":"header"' in line
        or ('"source":"eu-west"' in line and ('"kind":"history"' in line and json.loads(line)["sequence"] <= 6))
    ]
    import_lines(store, partial)

    result = import_lines(store, lines)

    assert export(store) == full
    assert (result.latest, result.latest_kept) == (2, 0)
    assert (result.history_added, result.history_kept) == (18, 6)
    assert result.rollups == result.rollups_read > 0


def test_it_exports_a_long_history_a_page_at_a_time(store: MetricStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """export_metrics read a source's whole history (newest first) and sorted it in memory before writing a line."""
    count = 2 * EXPORT_PAGE + 200
    rollup_store(store).restore_history(
        [
            HistoryEntry("", "long", f"h{n}", {"n": n}, {"cpu": float(n)}, [], T0 + timedelta(seconds=n), n)
            for n in range(1, count + 1)
        ]
    )
    read: list[int] = []  # entries each read of the real store returned, whichever read the export uses
    for name in ("history", "history_in_order"):
        real = getattr(store, name, None)
        if real is None:
            continue

        def counted(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            found = _real(*args, **kwargs)
            read.append(len(found if isinstance(found, list) else found.entries))
            return found

        monkeypatch.setattr(store, name, counted)

    held, sequences = [], []
    for kind, line in export_lines(store, ["long"]):
        if kind == "history":
            sequences.append(json.loads(line)["sequence"])
            held.append(sum(read) - len(sequences) + 1)  # read from the store but not written yet, this one included
    assert sequences == list(range(1, count + 1))
    assert max(held) <= EXPORT_PAGE
    assert read == [EXPORT_PAGE, EXPORT_PAGE, 200]


def test_it_exports_many_sources_holding_a_chunk_of_latest_snapshots_at_a_time(
    store: MetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """export_metrics read every source's latest snapshot at once (latest_all): memory in proportion to all the
    sources' documents, whatever the page its history walk kept to."""
    chunk = 3
    monkeypatch.setattr(transfer, "EXPORT_LATEST_CHUNK", chunk, raising=False)
    slugs = [f"s{n:02}" for n in range(2 * chunk + 2)]
    for slug in reversed(slugs):
        store.record(SourceSpec(slug), {"slug": slug}, T0)
    read: list[int] = []  # snapshots each read of the real store returned, whichever read the export uses
    for name in ("latest", "latest_all", "latest_of"):
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            found = _real(*args, **kwargs)
            read.append(len(found) if isinstance(found, dict) else int(found is not None))
            return found

        monkeypatch.setattr(store, name, counted)

    held, written = [], []
    for kind, line in export_lines(store):
        if kind == "latest":
            written.append(json.loads(line)["source"])
            held.append(sum(read) - len(written) + 1)  # read from the store but not written yet, this one included
    assert written == slugs
    assert max(held) <= chunk
    assert read == [chunk, chunk, 2]


@pytest.mark.parametrize("kind", ["mongodb"])
def test_it_moves_data_from_the_sql_store_to_mongodb(request: pytest.FixtureRequest, kind: str, db: None) -> None:
    from metrics.stores.sql import SqlMetricStore

    sql = SqlMetricStore()
    fill(sql)
    exported = export(sql)
    with open_store(request, kind) as mongo:
        import_lines(mongo, exported.splitlines())
        assert export(mongo) == exported


# --- the commands ---------------------------------------------------------------------------


@pytest.fixture
def configured(db: None) -> Iterator[MetricStore]:
    from metrics.stores import get_store

    get_store.cache_clear()
    store = get_store()
    fill(store)
    yield store
    get_store.cache_clear()


def test_the_commands_round_trip_through_a_gzip_file(configured: MetricStore, tmp_path: Path) -> None:
    first, second = tmp_path / "first.ndjson.gz", tmp_path / "second.ndjson.gz"
    call_command("export_metrics", "--output", str(first), stderr=io.StringIO())
    wipe(configured)
    out = io.StringIO()
    call_command("import_metrics", str(first), stdout=out)
    assert "24 of 24 history entries added, 0 kept (already stored)" in out.getvalue()
    again = io.StringIO()
    call_command("import_metrics", str(first), stdout=again)
    rollups = sum(1 for line in gzip.decompress(first.read_bytes()).decode().splitlines() if '"kind":"rollup"' in line)
    assert (
        f"2 source(s); latest: 0 written, 2 kept (stored as new or newer); 0 of 24 history entries added, 24 kept "
        f"(already stored); 0 of {rollups} rollups added, {rollups} kept (already stored)"
    ) in again.getvalue()
    call_command("export_metrics", "-o", str(second), stderr=io.StringIO())
    assert gzip.decompress(first.read_bytes()) == gzip.decompress(second.read_bytes())
    assert first.read_bytes() == second.read_bytes()


def test_the_export_can_be_limited_to_one_source(configured: MetricStore, capsys: Any) -> None:
    call_command("export_metrics", "--source", "eu-west", stderr=io.StringIO())
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["source"] for r in records if r["kind"] != "header"} == {"eu-west"}


def test_the_export_refuses_a_source_neither_stored_nor_configured(
    configured: MetricStore, tmp_path: Path, capsys: Any
) -> None:
    # A mistyped slug once exported a header and nothing else, exit 0, as if the source had no data.
    path = tmp_path / "typo.ndjson"
    with pytest.raises(CommandError, match=r"--source 'eu-wset': no such source .*nothing was written"):
        call_command("export_metrics", "--source", "eu-west", "--source", "eu-wset", "-o", str(path))
    assert not path.exists()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("not json", "line 3: not JSON"),
        ('{"kind": "history", "source": "us-east"}', "line 3: diff is missing"),
        ('{"kind": "sample"}', "line 3: expected an object with kind"),
        (
            '{"kind": "rollup", "source": "s", "metric": "m", "tier": "5m", "start": "2026-01-01T00:00:00+00:00"}',
            "tier must be one of",
        ),
    ],
)
def test_a_bad_file_imports_nothing(configured: MetricStore, tmp_path: Path, line: str, words: str) -> None:
    good = export(configured).splitlines()
    wipe(configured)
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join([*good[:2], line, *good[2:]]) + "\n")
    with pytest.raises(CommandError, match=words) as caught:
        call_command("import_metrics", str(path), stdout=io.StringIO())
    assert "nothing was imported" in str(caught.value)
    assert configured.latest_all() == {}


def test_it_refuses_a_line_nested_10000_deep_naming_the_line(configured: MetricStore, tmp_path: Path) -> None:
    """Issue 14: json.loads recursed through such a line (RecursionError mid-import); its budget refuses it."""
    good = export(configured).splitlines()
    wipe(configured)
    deep = '{"kind": "history", "source": "us-east", "payload": ' + "[" * 10_000 + "]" * 10_000 + "}"
    path = tmp_path / "deep.ndjson"
    path.write_text("\n".join([*good[:3], deep, *good[3:]]) + "\n")
    with pytest.raises(
        CommandError, match=r"line 4: the record nests deeper than 68 levels \(JSON_MAX_DEPTH\)"
    ) as caught:
        call_command("import_metrics", str(path), stdout=io.StringIO())
    assert "nothing was imported" in str(caught.value)
    assert configured.latest_all() == {}
    assert all(not configured.history(spec.slug).entries for spec in SPECS)


def test_it_refuses_a_line_with_too_many_items_naming_the_line(settings: Any) -> None:
    settings.JSON_MAX_ITEMS = 1000  # the import budget allows three times as many: a payload and a diff of two
    settings.METRICS_MAX_PAYLOAD_BYTES = 1024  # and a 1 KiB payload cannot hold more
    wide = '{"kind": "history", "source": "us-east", "payload": [' + ",".join(["0"] * 4000) + "]}"
    with pytest.raises(RecordFormatError, match=r"line 2: the record has more than 3000 items \(JSON_MAX_ITEMS\)"):
        validate([json.dumps({"kind": "header", "format": "devops-insights-metrics", "version": 1}), wide])


# --- the widest diffs the limits allow: every line the export writes imports ------------------------


def nested(depth: int, leaf: Any) -> dict[str, Any]:
    """``depth`` objects one in another, ``leaf`` in the innermost."""
    document: dict[str, Any] = {"x": leaf}
    for _ in range(depth - 1):
        document = {"a": document}
    return document


LONG_KEY = "k" * 3000
WIDEST = {
    # Every leaf of a document near the size limit changes, under a key as long as the limit leaves room for:
    # each change names its whole path, so the diff outweighs the document hundreds of times (too large).
    "long paths": (
        {LONG_KEY: {f"m{i:03}": 0 for i in range(500)}},
        {LONG_KEY: {f"m{i:03}": 1 for i in range(500)}},
    ),
    # Every element of a list changes: each change adds an object of four members (too many items).
    "many items": ({"v": [0] * 3500}, {"v": [1] * 3500}),
    # A document as deep as the poller stores (POLLER_MAX_JSON_DEPTH above JSON_MAX_DEPTH: too deep), its
    # top member replaced by a number: a change whose old value nests all the way down.
    "deepest": (nested(88, [0, [1]]), {"a": 2}),
}


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.METRICS_MAX_PAYLOAD_BYTES = 8192
    settings.JSON_MAX_ITEMS = 100
    settings.JSON_MAX_DEPTH = 64
    settings.POLLER_MAX_JSON_DEPTH = 90
    return settings


@pytest.mark.parametrize("shape", list(WIDEST))
def test_it_round_trips_the_widest_diff_the_limits_allow(store: MetricStore, limits: Any, shape: str) -> None:
    """An export could hold a history line over the budget import holds every line to: the product refused
    its own file. The budget is derived from what the store accepts, and a wider diff goes over several lines."""
    old, new = WIDEST[shape]
    spec = SourceSpec("wide")
    for document in (old, new):  # within what the store and the poller accept
        assert len(canonical_json(document).encode()) <= limits.METRICS_MAX_PAYLOAD_BYTES
        assert jsonlimits.measure(canonical_json(document)).depth <= limits.POLLER_MAX_JSON_DEPTH
    store.record(spec, old, T0)
    store.record(spec, new, T0 + timedelta(minutes=1))
    first = export(store)
    budget = jsonlimits.import_record_budget()
    for line in first.splitlines():
        jsonlimits.check_text(line, budget)
    kinds = [json.loads(line)["kind"] for line in first.splitlines()]
    assert kinds.count("history") == 2
    assert (kinds.count("diff") > 1) == (shape != "deepest")

    store.delete_source("wide")
    assert validate(first.splitlines()) == len(kinds)
    result = import_lines(store, first.splitlines())

    assert result.history_added == 2
    assert export(store) == first
    assert store.history("wide").entries[0].diff == diff_payloads(old, new)


@pytest.mark.parametrize(
    ("drop", "words"),
    [
        (lambda lines: [line for line in lines if '"part":2,' not in line], "diff part 3 of history entry 2 of wide"),
        (lambda lines: lines[:-1], "the file ends before the last diff part of history entry 2 of wide"),
        (lambda lines: [lines[0], lines[-1], *lines[1:-1]], r"line 2: diff part \d+ of history entry 2 of wide out of"),
    ],
    ids=["a part missing", "the last part missing", "a part out of place"],
)
def test_it_refuses_a_wide_diff_whose_parts_are_not_all_in_place(
    store: MetricStore, limits: Any, drop: Any, words: str
) -> None:
    old, new = WIDEST["long paths"]
    store.record(SourceSpec("wide"), old, T0)
    store.record(SourceSpec("wide"), new, T0 + timedelta(minutes=1))
    lines = [line for line in export(store).splitlines() if '"kind":"latest"' not in line]
    assert sum('"kind":"diff"' in line for line in lines) > 3
    with pytest.raises(RecordFormatError, match=words):
        validate(drop(lines))


def test_the_export_refuses_what_the_limits_no_longer_allow(configured: MetricStore, tmp_path: Path) -> None:
    """Stored under a larger METRICS_MAX_PAYLOAD_BYTES than the one in force: no line the import accepts
    holds it, so the export says so and leaves no file that would import as if whole."""
    from django.conf import settings

    configured.record(SourceSpec("big"), {"blob": "x" * 200_000}, T0)
    path = tmp_path / "export.ndjson"
    with override_settings(METRICS_MAX_PAYLOAD_BYTES=16 * 1024), pytest.raises(CommandError) as caught:
        call_command("export_metrics", "-o", str(path), stderr=io.StringIO())
    assert "the latest snapshot of big cannot be exported as a line the import accepts" in str(caught.value)
    assert "(METRICS_MAX_PAYLOAD_BYTES)" in str(caught.value)
    assert "no file was written" in str(caught.value)
    assert not path.exists()
    assert settings.METRICS_MAX_PAYLOAD_BYTES > 200_000


def test_it_refuses_a_file_of_another_format(configured: MetricStore, tmp_path: Path) -> None:
    path = tmp_path / "other.ndjson"
    path.write_text('{"kind": "header", "format": "something-else", "version": 1}\n')
    with pytest.raises(CommandError, match="not a devops-insights-metrics version 1 file"):
        call_command("import_metrics", str(path), stdout=io.StringIO())
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_metrics", str(tmp_path / "missing.ndjson"), stdout=io.StringIO())
