"""What the MongoDB store does beyond the shared contract: indexes, TTL, outages, crash repair, settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.rollups import RollupBucket, bucket_start
from metrics.stores.base import (
    HistoryEntry,
    PayloadError,
    SeriesBucket,
    SeriesKey,
    Snapshot,
    SourceSpec,
    StoreError,
)
from metrics.stores.mongo import MongoMetricStore
from tests import services
from tests.mongo_store import CommandLog, client_for, mongo_store

REAL_MONGODB = bool(os.environ.get("MONGODB_TEST_URL"))
SPEC = SourceSpec("eu-west", metric_paths={"cpu": "stats.cpu", "odd.name$": "stats.cpu"})
T0 = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)


def closed_port_url() -> str:
    return f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true"


def doc(cpu: float) -> dict[str, Any]:
    return {"stats": {"cpu": cpu}, "status": "ok"}


@pytest.fixture
def store(mongodb_url: str) -> Iterator[MongoMetricStore]:
    with mongo_store(mongodb_url) as made:
        yield made


def indexes_by_key(collection: Any) -> dict[tuple[tuple[str, int], ...], dict[str, Any]]:
    return {tuple((k, int(d)) for k, d in spec["key"]): spec for spec in collection.index_information().values()}


def test_it_creates_its_indexes_idempotently(store: MongoMetricStore) -> None:
    store.ensure_indexes()
    store.ensure_indexes()
    latest = indexes_by_key(store.latest_collection)
    history = indexes_by_key(store.history_collection)
    assert latest[(("source", 1),)].get("unique") is True
    assert history[(("source", 1), ("sequence", 1))].get("unique") is True
    assert history[(("fetched_at", 1),)]["expireAfterSeconds"] == 7 * 86400
    # nx-27017 reports the paging index's key ascending; real MongoDB keeps the descending order.
    assert any(
        key[0] == ("source", 1) and [k for k, _ in key] == ["source", "fetched_at", "sequence"] for key in history
    )
    assert len(history) == 4  # _id, unique sequence, paging, TTL: nothing duplicated by the second run


@pytest.mark.xfail(
    not REAL_MONGODB,
    reason="nx-27017 answers ok to collMod but does not change the TTL; real MongoDB applies it",
    strict=True,
)
def test_it_follows_the_retention_setting_with_coll_mod(mongodb_url: str) -> None:
    with mongo_store(mongodb_url) as store:
        store.ensure_indexes()
        changed = MongoMetricStore(store.client, store.db.name, retention_days=30)
        [*_, ttl_line] = changed.ensure_indexes()
        assert "TTL changed to 2592000s" in ttl_line
        ttl = indexes_by_key(store.history_collection)[(("fetched_at", 1),)]
        assert ttl["expireAfterSeconds"] == 30 * 86400
        assert "unchanged" in changed.ensure_indexes()[-1]


def test_it_stores_payload_keys_and_metric_names_mongodb_reserves(store: MongoMetricStore) -> None:
    payload = {"$ref": "x", "a.b": {"$c": 1}, "stats": {"cpu": 2.5}}
    store.record(SPEC, payload, T0)
    changed = {**payload, "a.b": {"$c": 2}}
    result = store.record(SPEC, changed, T0 + timedelta(minutes=1))
    assert result.metrics == {"cpu": 2.5, "odd.name$": 2.5}
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert latest.payload == changed
    assert latest.metrics == {"cpu": 2.5, "odd.name$": 2.5}
    [entry, _] = store.history(SPEC.slug).entries
    assert [(c.path, c.old, c.new) for c in entry.diff] == [("a.b.$c", 1, 2)]
    [bucket] = store.series(SPEC.slug, "odd.name$", T0, T0 + timedelta(hours=1), timedelta(hours=1))
    assert (bucket.count, bucket.avg) == (2, 2.5)


def test_it_repairs_history_on_the_next_write_after_a_crash_between_latest_and_history(
    store: MongoMetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record(SPEC, doc(1.0), T0)

    def crash(latest: dict[str, Any]) -> None:
        raise SystemExit("poller killed after swapping latest")

    with monkeypatch.context() as patched:
        patched.setattr(store, "_write_history", crash)
        with pytest.raises(SystemExit):
            store.record(SPEC, doc(2.0), T0 + timedelta(minutes=1))
    # Latest already moved (readers see the new content); its history entry is missing for now.
    latest = store.latest(SPEC.slug)
    assert latest is not None
    assert (latest.sequence, latest.payload) == (2, doc(2.0))
    assert [e.sequence for e in store.history(SPEC.slug).entries] == [1]
    # The next record of the source, even an unchanged one, writes the missing entry first.
    result = store.record(SPEC, doc(2.0), T0 + timedelta(minutes=2))
    assert (result.changed, result.sequence) == (False, 2)
    newest, _ = store.history(SPEC.slug).entries
    assert (newest.sequence, newest.payload, newest.fetched_at) == (2, doc(2.0), T0 + timedelta(minutes=1))
    assert [(c.path, c.old, c.new) for c in newest.diff] == [("stats.cpu", 1.0, 2.0)]
    assert store.latest_collection.find_one({"source": SPEC.slug}, {"history_pending": 1}) == {"_id": SPEC.slug}


def test_it_raises_a_store_error_when_mongodb_is_unreachable() -> None:
    client = client_for(
        f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true", serverSelectionTimeoutMS=300
    )
    store = MongoMetricStore(client, "unreachable")
    with pytest.raises(StoreError, match="MongoDB metric store failed to record eu-west: ServerSelectionTimeoutError"):
        store.record(SPEC, doc(1.0), T0)
    for read in (
        lambda: store.latest(SPEC.slug),
        store.latest_all,
        store.latest_sources,
        store.latest_heads,
        lambda: store.history(SPEC.slug),
        lambda: store.series(SPEC.slug, "cpu", T0, T0 + timedelta(hours=1), timedelta(minutes=1)),
        store.stats,
    ):
        with pytest.raises(StoreError):
            read()
    client.close()


def test_it_still_refuses_a_bad_payload_before_touching_mongodb() -> None:
    client = client_for(
        f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true", serverSelectionTimeoutMS=300
    )
    with pytest.raises(PayloadError):
        MongoMetricStore(client, "unreachable").record(SPEC, {"x": float("nan")}, T0)  # type: ignore[arg-type]
    client.close()


class NxServer:
    """An nx-27017 process of this test's own, so it can be killed and restarted on the same data."""

    def __init__(self, data_dir: Path) -> None:
        exe = shutil.which("nx-27017", path=str(Path(sys.executable).parent)) or shutil.which("nx-27017")
        if exe is None:
            services.unavailable("nx-27017 is not installed")
        self.exe = str(exe)
        self.data_dir = data_dir
        self.port = services.free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        args = [self.exe, "--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.data_dir / "m.db")]
        args += ["--log-file", str(self.data_dir / "nx.log"), "--pid-file", str(self.data_dir / "nx.pid")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not services.wait_for_port("127.0.0.1", self.port, proc=self.proc):
            services.unavailable(f"nx-27017 did not start on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def test_it_keeps_latest_intact_through_an_outage_during_record(tmp_path: Path, real_mongodb: bool) -> None:
    if real_mongodb:
        pytest.skip("kills and restarts its own nx-27017 process; a real mongod is not ours to kill")
    server = NxServer(tmp_path)
    server.start()
    try:
        client = client_for(server.url, serverSelectionTimeoutMS=500, socketTimeoutMS=1000, retryWrites=False)
        store = MongoMetricStore(client, "outage")
        store.ensure_indexes()
        store.record(SPEC, doc(1.0), T0)
        before = store.latest(SPEC.slug)
        server.kill()
        with pytest.raises(StoreError):
            store.record(SPEC, doc(2.0), T0 + timedelta(minutes=1))
        with pytest.raises(StoreError):
            store.latest(SPEC.slug)
        server.start()
        assert store.latest(SPEC.slug) == before
        assert [e.sequence for e in store.history(SPEC.slug).entries] == [1]
        assert store.record(SPEC, doc(2.0), T0 + timedelta(minutes=2)).sequence == 2
        client.close()
    finally:
        server.kill()


def test_it_builds_from_settings(settings: Any, mongodb_url: str) -> None:
    settings.MONGODB_URL = mongodb_url
    settings.MONGODB_DATABASE = f"test_{uuid.uuid4().hex[:12]}"
    settings.MONGODB_MAX_POOL_SIZE = 7
    settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS = 1234
    settings.MONGODB_SOCKET_TIMEOUT_MS = 4321
    settings.MONGODB_WRITE_CONCERN = "1"
    store = MongoMetricStore.from_settings()
    try:
        assert store.client.options.pool_options.max_pool_size == 7
        assert store.client.options.server_selection_timeout == 1.234
        assert store.client.options.pool_options.socket_timeout == 4.321
        assert store.client.write_concern.document == {"w": 1}
        assert store.db.name == settings.MONGODB_DATABASE
        # Indexes are made once, on first use, not per request.
        store.record(SPEC, doc(1.0), T0)
        assert (("source", 1),) in indexes_by_key(store.latest_collection)
        assert store._schema_pending is False
    finally:
        store.client.drop_database(settings.MONGODB_DATABASE)
        store.close()


def test_it_refuses_to_build_from_settings_without_a_url(settings: Any) -> None:
    settings.MONGODB_URL = None
    with pytest.raises(StoreError, match="MONGODB_URL is not set"):
        MongoMetricStore.from_settings()


def test_it_creates_indexes_from_the_management_command(settings: Any, mongodb_url: str) -> None:
    settings.METRIC_STORE = "mongodb"
    settings.MONGODB_URL = mongodb_url
    settings.MONGODB_DATABASE = f"test_{uuid.uuid4().hex[:12]}"
    out = StringIO()
    call_command("ensure_indexes", stdout=out)
    assert "TTL 604800s, created" in out.getvalue()
    out = StringIO()
    call_command("ensure_indexes", stdout=out)
    assert "TTL 604800s, unchanged" in out.getvalue()
    client_for(mongodb_url).drop_database(settings.MONGODB_DATABASE)


def test_it_fails_the_management_command_clearly_when_mongodb_is_down(settings: Any) -> None:
    settings.METRIC_STORE = "mongodb"
    settings.MONGODB_URL = f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true"
    settings.MONGODB_SERVER_SELECTION_TIMEOUT_MS = 300
    with pytest.raises(CommandError, match="ServerSelectionTimeoutError"):
        call_command("ensure_indexes", stdout=StringIO())


def test_it_has_nothing_to_do_for_the_sql_store(settings: Any) -> None:
    settings.METRIC_STORE = "sql"
    out = StringIO()
    call_command("ensure_indexes", stdout=out)
    assert "manage.py migrate" in out.getvalue()


# --- round trips: a panel's series are one command, whatever the rollups hold -------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
SOURCES, METRICS, HOURS = ["s0", "s1", "s2"], ["cpu", "online"], 48
KEYS = [SeriesKey(source, metric) for source in SOURCES for metric in METRICS]


@pytest.fixture
def counted(mongodb_url: str) -> Iterator[tuple[MongoMetricStore, CommandLog]]:
    log = CommandLog()
    with mongo_store(mongodb_url, log) as made:
        yield made, log


def rolled_up_until(store: MongoMetricStore, reached: datetime) -> datetime:
    """HOURS hourly buckets (value h, one sample each) of every source and metric, the newest one's last sample
    at ``reached`` (where the last rollup run got to), and that sample as the source's latest; returns where
    the first bucket starts."""
    first = bucket_start(reached, "1h") - timedelta(hours=HOURS - 1)
    store.write_rollups(
        [
            RollupBucket(
                source,
                metric,
                "1h",
                first + timedelta(hours=h),
                1,
                h,
                h,
                h,
                h,
                reached if h == HOURS - 1 else first + timedelta(hours=h, minutes=30),
            )
            for source in SOURCES
            for metric in METRICS
            for h in range(HOURS)
        ]
    )
    for source in SOURCES:
        changes(store, source, [(reached, HOURS - 1)])
    return first


def changes(store: MongoMetricStore, source: str, samples: list[tuple[datetime, int]]) -> None:
    """Raw history entries (cpu = i, online = 2i) after what is stored, the last one becoming the latest."""
    entries = [
        HistoryEntry("", source, f"{source}-{at}", {}, {"cpu": i, "online": 2 * i}, [], at, int(at.timestamp()))
        for at, i in samples
    ]
    store.restore_history(entries)
    last = entries[-1]
    store.restore_latest(
        Snapshot(source, last.hash, {}, last.metrics, last.fetched_at, last.fetched_at, last.sequence, {})
    )


def totals(found: dict[SeriesKey, list[SeriesBucket]], key: SeriesKey) -> tuple[int, float]:
    """How many samples a series counts, and their sum (avg x count): every sample counted exactly once."""
    return sum(b.count for b in found[key]), sum(b.avg * b.count for b in found[key])


def test_it_reads_a_rollup_panel_and_its_samples_not_rolled_up_yet_in_one_command(
    counted: tuple[MongoMetricStore, CommandLog],
) -> None:
    store, log = counted
    reached = NOW - timedelta(minutes=5)
    first = rolled_up_until(store, reached)
    tail = [(reached + timedelta(seconds=5 * i), i) for i in range(1, 41)]  # after the last rollup run
    for source in SOURCES:
        changes(store, source, tail)

    # 288 buckets, 3 latest documents and 120 samples: past the 101 documents of a default first batch.
    log.names.clear()
    found = store.series_many(KEYS, first, NOW, timedelta(hours=1), "1h")
    assert log.names == ["aggregate"]  # buckets and samples together: no second read, no getMore
    rolled = sum(range(HOURS))
    for source in SOURCES:
        assert totals(found, SeriesKey(source, "cpu")) == (HOURS + 40, pytest.approx(rolled + sum(range(1, 41))))
        assert totals(found, SeriesKey(source, "online")) == (HOURS + 40, pytest.approx(rolled + 2 * 820))

    log.names.clear()
    raw = store.series_many(KEYS, reached + timedelta(seconds=1), NOW, timedelta(minutes=1), "raw")
    assert log.names == ["aggregate"]
    assert all(totals(raw, key)[0] == 40 for key in KEYS)


def test_it_reads_a_quiet_source_and_a_metric_it_lacks_in_one_command(
    counted: tuple[MongoMetricStore, CommandLog],
) -> None:
    store, log = counted
    first = rolled_up_until(store, NOW - timedelta(hours=3))  # nothing changed since: no sample to read
    lacking = SeriesKey("s0", "absent")  # a board's "*" sources include ones without the metric
    log.names.clear()
    found = store.series_many([*KEYS, lacking], first, NOW, timedelta(hours=1), "1h")
    assert log.names == ["aggregate"]  # s0's raw history is not read for the metric it lacks
    assert found[lacking] == []
    assert all(totals(found, key) == (HOURS, pytest.approx(sum(range(HOURS)))) for key in KEYS)


def test_it_reads_what_rollups_lagging_behind_left_with_a_second_command(
    counted: tuple[MongoMetricStore, CommandLog],
) -> None:
    store, log = counted
    reached = NOW - timedelta(hours=2)  # the rollup step stopped two hours ago
    first = rolled_up_until(store, reached)
    since = [(reached + timedelta(minutes=10 * i), i) for i in range(1, 12)]  # 10 before the window, 1 in it
    changes(store, "s1", since)
    log.names.clear()
    found = store.series_many(KEYS, first, NOW, timedelta(hours=1), "1h")
    assert log.names == ["aggregate", "find"]  # the gap before the window, for s1 only: no sample lost
    assert totals(found, SeriesKey("s1", "cpu")) == (HOURS + 11, pytest.approx(sum(range(HOURS)) + 66))
    assert totals(found, SeriesKey("s0", "cpu")) == (HOURS, pytest.approx(sum(range(HOURS))))
