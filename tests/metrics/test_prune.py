"""Pruning with archival: archive-before-delete, crash between write and delete, idempotence,
the prune command (dry run, one source, progress) and the MongoDB TTL that follows the policies."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from metrics.lifecycle.archive import ArchiveError, day_path
from metrics.lifecycle.models import Retention, RetentionPolicy
from metrics.lifecycle.retention import RetentionFailed, apply_retention, rollup_store
from metrics.stores.base import MetricStore, SourceSpec
from tests.any_store import open_store
from tests.factories import make_source

SPEC = SourceSpec("us-east", metric_paths={"cpu": "stats.cpu"})
POLICY = {"us-east": Retention(raw_days=1, archive_raw=True)}


@dataclass(frozen=True)
class Moments:
    """A test's clock and history, taken when the test starts: the prune command reads the real clock, so
    moments taken at import drifted towards its horizon while the suite ran, and broke the tests run late."""

    now: datetime
    times: list[datetime]

    @classmethod
    def taken_now(cls) -> Moments:
        # On the half hour (the entries fall on the hour), at most 30 minutes from the real clock.
        now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
        # Four days of history, every 3 hours; the policy keeps one day of raw snapshots. Offset by 90 minutes
        # so that no entry sits within an hour of the horizon the command computes from the real clock.
        return cls(now, [now - timedelta(days=4) + timedelta(hours=3 * i, minutes=90) for i in range(32)])

    def old_sequences(self) -> set[int]:
        horizon = (self.now - timedelta(days=1)).replace(second=0, microsecond=0)
        return {number + 1 for number, moment in enumerate(self.times) if moment < horizon}


@pytest.fixture
def moments() -> Moments:
    return Moments.taken_now()


def fill(store: MetricStore, moments: Moments) -> None:
    for number, moment in enumerate(moments.times):
        store.record(SPEC, {"stats": {"cpu": float(number)}, "n": number}, moment)


def stored_sequences(store: MetricStore) -> set[int]:
    found, cursor = set(), None
    while True:
        page = store.history("us-east", limit=100, cursor=cursor)
        found |= {e.sequence for e in page.entries}
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def archived(root: Path) -> list[dict[str, Any]]:
    lines = []
    for path in sorted((root / "us-east").glob("*.ndjson.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines.extend(json.loads(line) for line in handle)
    return lines


class Crash(BaseException):
    """The process dying: not an Exception, so nothing on the way catches it."""


def crash_on_prune(store: MetricStore) -> type:
    original = type(store)

    def prune(self: Any, source: str | None, before: datetime) -> int:
        raise Crash("killed between writing the archive and deleting")

    store.__class__ = type(f"Crashing{original.__name__}", (original,), {"prune": prune})
    return original


def test_it_archives_then_deletes_and_survives_a_crash_in_between(
    store: MetricStore, tmp_path: Path, moments: Moments
) -> None:
    fill(store, moments)
    everything = stored_sequences(store)
    old = moments.old_sequences()
    assert old
    assert old < everything

    original = crash_on_prune(store)
    with pytest.raises(Crash):
        apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=POLICY, keep={})
    # Crashed after the archive was written and verified, before the delete: both hold everything old.
    assert stored_sequences(store) == everything
    assert {line["sequence"] for line in archived(tmp_path)} == old

    store.__class__ = original
    (report,) = apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=POLICY, keep={})
    assert report.raw_deleted == len(old)
    assert stored_sequences(store) == everything - old
    lines = archived(tmp_path)
    sequences = [line["sequence"] for line in lines]
    assert len(sequences) == len(set(sequences)), "an entry was archived twice"
    assert set(sequences) == old, "an entry was lost"
    first = next(line for line in lines if line["sequence"] == 1)
    assert first["payload"] == {"stats": {"cpu": 0.0}, "n": 0}
    assert first["metrics"] == {"cpu": 0.0}
    assert datetime.fromisoformat(first["fetched_at"]) == moments.times[0]

    # One file per UTC day, named by the day, and each line in that day.
    for path in (tmp_path / "us-east").glob("*.ndjson.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            days = {datetime.fromisoformat(json.loads(line)["fetched_at"]).date().isoformat() for line in handle}
        assert days == {path.name.removesuffix(".ndjson.gz")}

    # Run again: nothing to delete, files untouched byte for byte.
    before = {p: p.read_bytes() for p in (tmp_path / "us-east").glob("*")}
    (again,) = apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=POLICY, keep={})
    assert again.raw_deleted == 0
    assert {p: p.read_bytes() for p in (tmp_path / "us-east").glob("*")} == before


def test_it_merges_a_second_batch_of_the_same_day_without_duplicates(
    store: MetricStore, tmp_path: Path, moments: Moments
) -> None:
    fill(store, moments)
    earlier = moments.now - timedelta(hours=6)
    apply_retention(store, tmp_path, sources=["us-east"], now=earlier, policies=POLICY, keep={})
    first_pass = {line["sequence"] for line in archived(tmp_path)}
    apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=POLICY, keep={})
    sequences = [line["sequence"] for line in archived(tmp_path)]
    assert first_pass < set(sequences)
    assert len(sequences) == len(set(sequences))
    assert set(sequences) == moments.old_sequences()


def test_it_deletes_nothing_when_an_archive_file_is_damaged(
    store: MetricStore, tmp_path: Path, moments: Moments
) -> None:
    fill(store, moments)
    everything = stored_sequences(store)
    oldest_day = moments.times[0].date()
    damaged = day_path(tmp_path, "us-east", oldest_day)
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(RetentionFailed):
        apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=POLICY, keep={})
    assert stored_sequences(store) == everything
    assert damaged.read_bytes() == b"\x1f\x8b not really gzip"


def test_it_ignores_a_temporary_file_left_by_a_killed_writer(
    store: MetricStore, tmp_path: Path, moments: Moments
) -> None:
    fill(store, moments)
    path = day_path(tmp_path, "us-east", moments.times[0].date())
    path.parent.mkdir(parents=True)
    (path.parent / f".{path.name}.4242.tmp").write_bytes(b"half a file")
    apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=POLICY, keep={})
    assert {line["sequence"] for line in archived(tmp_path)} == moments.old_sequences()


def test_it_prunes_without_archiving_and_keeps_rollups_by_tier(
    store: MetricStore, tmp_path: Path, moments: Moments
) -> None:
    fill(store, moments)
    policy = {"us-east": Retention(raw_days=1, minute_days=2, hour_days=3, day_days=None, archive_raw=False)}
    (report,) = apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=policy, keep={})
    assert not (tmp_path / "us-east").exists()
    assert stored_sequences(store) == set(range(1, 33)) - moments.old_sequences()
    target = rollup_store(store)
    minute_starts = [b.start for b in target.rollups("us-east", "1m")]
    # 1-minute rollups: two days, cut at an hour boundary; hourly: three days at a day boundary.
    assert min(minute_starts) >= (moments.now - timedelta(days=2)).replace(minute=0)
    assert min(b.start for b in target.rollups("us-east", "1h")) >= (moments.now - timedelta(days=3)).replace(
        hour=0, minute=0
    )
    assert min(b.start for b in target.rollups("us-east", "1d")) <= moments.times[0]  # kept forever
    assert report.rollups_deleted["1m"] > 0
    # A year-long chart still has every day's numbers after the raw data went.
    series = store.series(
        "us-east", "cpu", moments.now - timedelta(days=365), moments.now + timedelta(hours=1), timedelta(days=1)
    )
    assert sum(b.count for b in series) == 32


# --- the command, on the configured store ---------------------------------------------------


@pytest.fixture
def configured(db: None, settings: Any, tmp_path: Path, moments: Moments) -> MetricStore:
    from metrics.stores import get_store

    settings.ARCHIVE_DIR = tmp_path / "archive"
    make_source("us-east")
    RetentionPolicy.objects.update_or_create(source=None, defaults={"raw_days": 1, "archive_raw": True})
    get_store.cache_clear()
    store = get_store()
    fill(store, moments)
    return store


def test_the_command_dry_run_changes_nothing(configured: MetricStore, settings: Any, moments: Moments) -> None:
    out = StringIO()
    call_command("prune", "--dry-run", stdout=out)
    assert f"would delete {len(moments.old_sequences())} raw snapshot(s)" in out.getvalue()
    assert stored_sequences(configured) == set(range(1, 33))
    assert not Path(settings.ARCHIVE_DIR).exists()


def test_the_command_dry_run_totals_what_a_real_run_would_archive(configured: MetricStore, moments: Moments) -> None:
    # The total once said "archived 0" under a policy that archives: a dry run archives nothing, a real run would.
    out = StringIO()
    call_command("prune", "--dry-run", stdout=out)
    old = len(moments.old_sequences())
    assert (
        out.getvalue().splitlines()[-1]
        == f"prune: 1 source(s), would delete {old} raw snapshot(s), would archive {old}"
    )
    real = StringIO()
    call_command("prune", stdout=real)
    assert f"prune: 1 source(s), deleted {old} raw snapshot(s), archived {old}" in real.getvalue()


def test_the_command_prunes_one_source_with_progress(configured: MetricStore, settings: Any, moments: Moments) -> None:
    other = SourceSpec("eu-west", metric_paths={})
    configured.record(other, {"a": 1}, moments.times[0])
    configured.record(other, {"a": 2}, moments.times[1])
    out = StringIO()
    call_command("prune", "--source", "us-east", stdout=out)
    text = out.getvalue()
    assert "archived" in text
    assert f"deleted {len(moments.old_sequences())} raw snapshot(s)" in text
    assert len(configured.history("eu-west").entries) == 2  # untouched
    assert {line["sequence"] for line in archived(Path(settings.ARCHIVE_DIR))} == moments.old_sequences()


def test_the_command_refuses_an_unknown_source(configured: MetricStore) -> None:
    with pytest.raises(CommandError, match="no source 'nope'"):
        call_command("prune", "--source", "nope", stdout=StringIO())


def test_it_refuses_a_path_like_slug(tmp_path: Path, moments: Moments) -> None:
    with pytest.raises(ArchiveError, match="not a slug"):
        day_path(tmp_path, "../etc", moments.now.date())


# --- MongoDB TTL ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_keeps_the_mongodb_ttl_in_line_with_the_policies(request: pytest.FixtureRequest, real_mongodb: bool) -> None:
    from metrics.lifecycle.ttl import sync_ttl, wanted_ttl_seconds

    with open_store(request, "mongodb") as mongo:

        def ttl() -> int | None:
            for spec in mongo.history_collection.index_information().values():  # type: ignore[attr-defined]
                if list(spec.get("key", [])) == [("fetched_at", 1)] and "expireAfterSeconds" in spec:
                    return int(spec["expireAfterSeconds"])
            return None

        assert wanted_ttl_seconds() == 7 * 86400
        source = make_source("eu-west")
        override = RetentionPolicy.objects.create(source=source, raw_days=14)
        # The longest raw retention: the TTL never deletes what a policy still keeps.
        assert wanted_ttl_seconds() == 14 * 86400
        sync_ttl(mongo)
        if real_mongodb:
            assert ttl() == 14 * 86400
        # The choice is stored, so a process ensuring indexes later keeps it (not the setting's 7 days).
        assert mongo.settings_collection.find_one({"_id": "history_ttl"})["seconds"] == 14 * 86400  # type: ignore[attr-defined,index]
        override.archive_raw = True
        override.save()
        # Archiving needs the pruner to see every entry first: no TTL at all.
        assert wanted_ttl_seconds() is None
        lines = sync_ttl(mongo)
        assert "dropped" in lines[0]
        assert ttl() is None
        mongo.ensure_schema()
        assert ttl() is None, "ensure_schema brought back a TTL the policies had removed"


@pytest.mark.django_db
def test_it_moves_the_ttl_when_a_policy_is_saved_in_the_admin(
    mongodb_url: str, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    import uuid

    from django.db import transaction

    from metrics.stores import get_store

    settings.MONGODB_URL = mongodb_url
    settings.MONGODB_DATABASE = f"test_{uuid.uuid4().hex[:12]}"
    settings.METRIC_STORE = "mongodb"
    get_store.cache_clear()
    mongo = rollup_store(get_store())  # the MongoMetricStore under the read cache and instrumentation

    def chosen() -> int | None:
        row = mongo.settings_collection.find_one({"_id": "history_ttl"})  # type: ignore[attr-defined]
        return None if row is None else row["seconds"]

    try:
        policy, _ = RetentionPolicy.objects.get_or_create(source=None)
        with django_capture_on_commit_callbacks(execute=True):
            policy.raw_days = 21
            policy.save()
        assert chosen() == 21 * 86400
        # A change rolled back (a configuration apply that failed further on) leaves the TTL alone: 1 day
        # there would expire history the policy in force keeps 21.
        with (  # noqa: PT012 - the save and the failure after it are the rolled-back transaction
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            policy.raw_days = 1
            policy.save()
            raise RuntimeError("the apply failed further on")
        assert chosen() == 21 * 86400
    finally:
        mongo.client.drop_database(settings.MONGODB_DATABASE)  # type: ignore[attr-defined]
        get_store.cache_clear()


def test_the_command_dry_run_says_policy_cutoff_rows_and_bytes(
    configured: MetricStore, settings: Any, moments: Moments
) -> None:
    import re

    from metrics.extraction import canonical_json

    out = StringIO()
    call_command("prune", "--dry-run", "--source", "us-east", stdout=out)
    text = out.getvalue()
    assert "rollups written" not in text
    line = next(line for line in text.splitlines() if line.strip().startswith("us-east:"))
    assert re.search(r"policy keeps raw \d+d, 1m \d+d, 1h \d+d, 1d (forever|\d+d)", line), line
    found = re.search(r"raw cutoff (\S+);", line)
    assert found, line
    cutoff = datetime.fromisoformat(found.group(1))
    old = [e for e in configured.history("us-east", limit=1000).entries if e.fetched_at < cutoff]
    assert len(old) == len(moments.old_sequences())
    size = sum(len(canonical_json(e.payload).encode()) for e in old)
    assert f"would delete {len(old)} raw snapshot(s), " in line
    assert f"({size} bytes)" in line or f"{size} B;" in line
    assert "would delete rollup rows" in line


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_it_archives_text_holding_a_unicode_line_separator(
    store: MetricStore, tmp_path: Path, separator: str, moments: Moments
) -> None:
    # JSON leaves these unescaped; a verification that split lines on them found entries that were never
    # written, and the source's retention stopped at every run.
    for number, moment in enumerate(moments.times):
        store.record(SPEC, {"stats": {"cpu": float(number)}, "n": number, "note": f"a{separator}b"}, moment)
    (report,) = apply_retention(store, tmp_path, sources=["us-east"], now=moments.now, policies=POLICY, keep={})
    old = moments.old_sequences()
    assert report.raw_deleted == len(old)
    lines = archived(tmp_path)
    assert {line["sequence"] for line in lines} == old
    assert all(line["payload"]["note"] == f"a{separator}b" for line in lines)


def test_it_archives_a_diff_too_wide_for_one_line_so_that_import_metrics_restores_it(
    configured: MetricStore, settings: Any, moments: Moments
) -> None:
    """The archive wrote a history entry on one line whatever its diff's width: a diff of many changes (each a
    small object) went over the import budget, and the day's file could be neither verified nor imported."""
    from metrics import jsonlimits
    from metrics.extraction import diff_payloads

    settings.METRICS_MAX_PAYLOAD_BYTES = 8192
    settings.JSON_MAX_ITEMS = 100
    wide = SourceSpec("wide")
    old, new = {"v": [0] * 3500}, {"v": [1] * 3500}  # every element changes: thousands of items in the diff
    # Both on one UTC day, whatever the hour the suite runs at: the archive writes a file per day.
    day = (moments.now - timedelta(days=3)).replace(hour=1, minute=0)
    configured.record(wide, old, day)
    configured.record(wide, new, day + timedelta(hours=1))
    configured.record(wide, {"v": [2]}, moments.now)  # kept: the latest and the newest entry stay in the store
    policy = {"wide": Retention(raw_days=1, archive_raw=True)}

    (report,) = apply_retention(
        configured, settings.ARCHIVE_DIR, sources=["wide"], now=moments.now, policies=policy, keep={}
    )

    assert report.raw_deleted == 2
    [path] = (Path(settings.ARCHIVE_DIR) / "wide").glob("*.ndjson.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    budget = jsonlimits.import_record_budget()
    for line in lines:
        jsonlimits.check_text(line, budget)
    assert [json.loads(line)["kind"] for line in lines].count("diff") > 1
    out = StringIO()
    call_command("import_metrics", str(path), stdout=out)
    assert "2 of 2 history entries added" in out.getvalue()
    restored = {entry.sequence: entry for entry in configured.history("wide").entries}
    assert sorted(restored) == [1, 2, 3]
    assert restored[2].payload == new
    assert restored[2].diff == diff_payloads(old, new)


def test_it_refuses_an_archive_day_whose_diff_part_is_missing(settings: Any, tmp_path: Path, moments: Moments) -> None:
    """An entry's diff parts are checked in place when a day is merged: a file missing one is not ours to rewrite."""
    from metrics.extraction import diff_payloads
    from metrics.lifecycle.archive import archive_day, read_lines
    from metrics.stores.base import HistoryEntry

    settings.METRICS_MAX_PAYLOAD_BYTES = 8192
    settings.JSON_MAX_ITEMS = 100
    old, new = {"v": [0] * 3500}, {"v": [1] * 3500}
    wide = HistoryEntry("", "wide", "h2", new, {}, diff_payloads(old, new), moments.times[1], 2)
    day = archive_day(tmp_path, "wide", moments.times[1].date(), [wide])
    lines = read_lines(day.path)
    assert (day.entries, day.added, len(lines) > 2) == (1, 1, True)
    damaged = gzip.compress("".join(line + "\n" for line in lines[:-1]).encode())
    day.path.write_bytes(damaged)
    later = HistoryEntry("", "wide", "h3", {"v": [2]}, {}, [], moments.times[1] + timedelta(minutes=1), 3)
    with pytest.raises(ArchiveError, match=rf"the file ends before diff part {len(lines) - 1} of line 1"):
        archive_day(tmp_path, "wide", moments.times[1].date(), [later])
    assert day.path.read_bytes() == damaged
    day.path.write_bytes(gzip.compress(b'{"kind": "history", "source": "wide"}\n'))
    with pytest.raises(ArchiveError, match=r"\.ndjson\.gz: line 1: diff is missing or not a list"):
        read_lines(day.path)


def test_it_lists_the_sources_to_prune_without_reading_their_snapshots(
    configured: MetricStore, monkeypatch: pytest.MonkeyPatch, moments: Moments
) -> None:
    """Every retention run read every source's latest document (latest_all) only to list their slugs."""

    def every_document() -> None:
        raise AssertionError("every source's latest snapshot was read to list the sources")

    for reader in {id(s): s for s in (configured, rollup_store(configured))}.values():
        monkeypatch.setattr(reader, "latest_all", every_document)
    out = StringIO()
    call_command("prune", "--source", "us-east", stdout=out)
    call_command("prune", stdout=out)
    assert f"deleted {len(moments.old_sequences())} raw snapshot(s)" in out.getvalue()
    assert stored_sequences(configured) == set(range(1, 33)) - moments.old_sequences()
