"""Applying retention policies to the metric store: roll up, archive, prune.

For each source, in this order (so nothing is pruned before it is rolled up or archived):

1. **Roll up** raw history into 1-minute buckets from where the last run stopped (its newest
   bucket is recomputed, since it may have been partial), then the touched hours from the
   1-minute buckets and the touched days from the hourly ones. Idempotent: buckets are upserted.
2. **Raw snapshots** older than the policy's horizon: with ``archive_raw``, every day's entries are
   first merged into ``ARCHIVE_DIR/<source>/<day>.ndjson.gz`` (written, flushed, verified; see
   metrics.lifecycle.archive), and only when every day is safely on disk are they deleted. A crash
   anywhere leaves entries in the store and at most a complete archive of them, merged without
   duplicates by the next run.
3. **Rollups** of each tier older than that tier's horizon are deleted (1-day ones are kept by
   default), except what an app above asks to keep (``signals.rollups_wanted``: a metric objective's
   period and monthly report read 1-minute rollups further back than the default 30 days).
4. **Availability buckets** of each tier older than the same horizon are deleted, but never less
   than the uptime windows need (``metrics.availability.REQUIRED_KEEP``: a policy asking for less is
   refused at save; one that bypassed validation is clamped here, with a warning).

Stores are used through the MetricStore contract plus ``metrics.rollups.RollupStore``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from metrics.availability import REQUIRED_KEEP
from metrics.extraction import canonical_json
from metrics.lifecycle.archive import archive_day
from metrics.lifecycle.models import Retention, RetentionPolicy, configured_slugs
from metrics.lifecycle.signals import retention_applied, rollups_wanted
from metrics.rollups import TIERS, RollupStore, aggregate_samples, bucket_start, cascade
from metrics.stores.base import HistoryEntry, MetricStore
from observability import instruments

logger = logging.getLogger(__name__)

PAGE = 500
COARSER = {"1m": "1h", "1h": "1d", "1d": "1d"}
# Deleting what comes before the epoch deletes nothing: every stored moment is a poll's, after it.
KEEP_ALL = datetime(1970, 1, 1, tzinfo=UTC)


class Store(RollupStore, Protocol):
    """A metric store with the rollup extension (SqlMetricStore and MongoMetricStore are)."""

    def history(
        self,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Any: ...

    def prune(self, source: str | None, before: datetime) -> int: ...

    def prune_availability(self, source: str | None, tier: str, before: datetime, *, dry_run: bool = False) -> int: ...

    def latest_sources(self) -> list[str]: ...


Progress = Callable[[str], None]


@dataclass
class SourceReport:
    source: str
    dry_run: bool
    buckets_written: dict[str, int] = field(default_factory=dict)
    raw_deleted: int = 0
    raw_archived: int = 0
    archive_files: list[Path] = field(default_factory=list)
    rollups_deleted: dict[str, int] = field(default_factory=dict)
    availability_deleted: dict[str, int] = field(default_factory=dict)
    policy: Retention | None = None
    raw_cutoff: datetime | None = None
    raw_bytes: int = 0  # dry run: the stored documents' size (canonical JSON) that would go

    @property
    def raw_to_archive(self) -> int:
        """The raw snapshots this run archives (a dry run: would archive, all it would delete when the policy
        archives, as a real run archives exactly what it then deletes)."""
        if not self.dry_run:
            return self.raw_archived
        return self.raw_deleted if self.policy is not None and self.policy.archive_raw else 0

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        if self.dry_run:
            return self.dry_run_summary()
        rolled = ", ".join(f"{tier} {n}" for tier, n in self.buckets_written.items() if n) or "none"
        pruned = ", ".join(f"{tier} {n}" for tier, n in self.rollups_deleted.items() if n) or "none"
        availability = ", ".join(f"{tier} {n}" for tier, n in self.availability_deleted.items() if n) or "none"
        archived = ""
        if self.archive_files:
            archived = f", archived {self.raw_archived} into {len(self.archive_files)} file(s)"
        return (
            f"{self.source}: rollups written {rolled}; {verb} {self.raw_deleted} raw snapshot(s){archived}; "
            f"{verb} rollups {pruned}; {verb} availability buckets {availability}"
        )

    def dry_run_summary(self) -> str:
        """Policy, cutoff, and rows and bytes per tier: what a real run would do, and why."""
        policy = self.policy or Retention()
        kept = ", ".join(
            f"{tier} {'forever' if keep is None else f'{keep.days}d'}"
            for tier, keep in ((t, policy.keep(t)) for t in ("raw", *TIERS))
        )
        cutoff = self.raw_cutoff.strftime("%Y-%m-%dT%H:%M:%SZ") if self.raw_cutoff else "none"
        rollups = ", ".join(f"{tier} {n}" for tier, n in self.rollups_deleted.items()) or "none"
        availability = ", ".join(f"{tier} {n}" for tier, n in self.availability_deleted.items()) or "none"
        archive = "; archives raw first" if policy.archive_raw else ""
        return (
            f"{self.source}: policy keeps {kept}{archive}; raw cutoff {cutoff}; would delete "
            f"{self.raw_deleted} raw snapshot(s), {human_bytes(self.raw_bytes)}; would delete rollup rows {rollups}; "
            f"would delete availability buckets {availability}"
        )


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit} ({size} bytes)"


WRAPPED = ("backend_store", "inner")  # CachedMetricStore, InstrumentedStore


def rollup_store(store: MetricStore) -> Store:
    """The concrete store under the read cache and the instrumentation: rollups bypass both."""
    inner = store
    unwrapped = True
    while unwrapped:
        unwrapped = False
        for attribute in WRAPPED:
            candidate = inner.__dict__.get(attribute)
            if isinstance(candidate, MetricStore):
                inner, unwrapped = candidate, True
                break
    if not hasattr(inner, "write_rollups"):
        raise TypeError(f"{type(inner).__name__} does not implement rollups (metrics.rollups.RollupStore)")
    return inner  # type: ignore[return-value]


def iter_history(store: Store, source: str, start: datetime | None, end: datetime | None) -> Iterator[HistoryEntry]:
    """Every entry in [start, end), newest first, a page at a time."""
    cursor = None
    while True:
        page = store.history(source, start=start, end=end, limit=PAGE, cursor=cursor)
        yield from page.entries
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def roll_up(store: Store, source: str) -> dict[str, int]:
    """Bring the source's rollups up to date with its raw history; returns buckets written per tier."""
    resume = store.latest_rollup_start(source, "1m")
    samples = ((entry.fetched_at, entry.metrics) for entry in iter_history(store, source, resume, None))
    minutes = aggregate_samples(source, samples)
    written = {tier: 0 for tier in TIERS}
    if not minutes:
        return written
    written["1m"] = store.write_rollups(minutes)
    hour_from = bucket_start(min(b.start for b in minutes), "1h")
    written["1h"] = store.write_rollups(cascade(store.rollups(source, "1m", start=hour_from), "1h"))
    day_from = bucket_start(hour_from, "1d")
    written["1d"] = store.write_rollups(cascade(store.rollups(source, "1h", start=day_from), "1d"))
    for tier, count in written.items():
        instruments.ROLLUP_BUCKETS_WRITTEN.labels(tier=tier).inc(count)
    return written


def _archive_raw(
    store: Store, source: str, horizon: datetime, archive_dir: Path, progress: Progress
) -> tuple[int, list[Path]]:
    """Archive every raw entry older than ``horizon``, one verified file per day; nothing is deleted here."""
    files: list[Path] = []
    total = 0
    day: date | None = None
    batch: list[HistoryEntry] = []

    def flush() -> None:
        nonlocal total
        if day is None or not batch:
            return
        result = archive_day(archive_dir, source, day, batch)
        files.append(result.path)
        total += len(batch)
        progress(f"{source}: {day.isoformat()} archived ({len(batch)}, {result.added} new) -> {result.path}")

    # Newest first: a day is complete when the next entry belongs to an earlier one.
    for entry in iter_history(store, source, None, horizon):
        entry_day = entry.fetched_at.astimezone(UTC).date()
        if entry_day != day:
            flush()
            day, batch = entry_day, []
        batch.append(entry)
    flush()
    return total, files


def count_history(store: Store, source: str, before: datetime) -> int:
    return sum(1 for _ in iter_history(store, source, None, before))


def apply_to_source(
    store: Store,
    source: str,
    retention: Retention,
    now: datetime,
    archive_dir: Path,
    *,
    dry_run: bool = False,
    progress: Progress = lambda message: None,
    raw_pruner: MetricStore | None = None,
    keep_rollups_from: datetime | None = None,
) -> SourceReport:
    """``raw_pruner``: the store to delete raw snapshots through (the outermost, so the read cache
    learns of the deletion); ``store`` by default. ``keep_rollups_from``: no rollup of any tier from then
    on is deleted, whatever the policy (see ``wanted_rollups``)."""
    report = SourceReport(source=source, dry_run=dry_run, policy=retention)
    if not dry_run:
        report.buckets_written = roll_up(store, source)

    policy_horizon = retention.horizon("raw", now)
    assert policy_horizon is not None  # raw snapshots always have a finite retention
    # Horizons fall on the next coarser tier's bucket boundary, so no tier ever holds a partly
    # pruned bucket of the tier above it (which series() tier choice relies on).
    raw_horizon = bucket_start(policy_horizon, "1m")
    report.raw_cutoff = raw_horizon
    if dry_run:
        for entry in iter_history(store, source, None, raw_horizon):
            report.raw_deleted += 1
            report.raw_bytes += len(canonical_json(entry.payload).encode())
    else:
        if retention.archive_raw:
            report.raw_archived, report.archive_files = _archive_raw(store, source, raw_horizon, archive_dir, progress)
            instruments.PRUNE_ARCHIVED.inc(report.raw_archived)
        # Everything before the horizon is now rolled up and, if wanted, archived and verified.
        report.raw_deleted = (raw_pruner or store).prune(source, raw_horizon)
        instruments.PRUNE_DELETED.labels(kind="raw").inc(report.raw_deleted)

    for tier in TIERS:
        horizon = retention.horizon(tier, now)
        if horizon is None:
            continue
        if keep_rollups_from is not None and keep_rollups_from < horizon:
            horizon = keep_rollups_from
        horizon = bucket_start(horizon, COARSER[tier])
        if dry_run:
            report.rollups_deleted[tier] = len(store.rollups(source, tier, end=horizon))
        else:
            report.rollups_deleted[tier] = store.prune_rollups(source, tier, horizon)
            instruments.PRUNE_DELETED.labels(kind=tier).inc(report.rollups_deleted[tier])

    for tier in TIERS:
        horizon = availability_horizon(retention, tier, now, source)
        if horizon is None:
            continue
        # Buckets are counted straight from polls (no cascade between tiers), yet the same boundary
        # as the rollups keeps a tier's cut on a bucket of the next coarser one.
        report.availability_deleted[tier] = store.prune_availability(
            source, tier, bucket_start(horizon, COARSER[tier]), dry_run=dry_run
        )
        if not dry_run:
            instruments.PRUNE_DELETED.labels(kind=f"availability_{tier}").inc(report.availability_deleted[tier])
    return report


def availability_horizon(retention: Retention, tier: str, now: datetime, source: str = "") -> datetime | None:
    """The policy's horizon for ``tier``, moved back to keep what the uptime windows read.

    RetentionPolicy.clean refuses a shorter policy at save; a row that never went through it (older
    rows, the shell, ``policies=``) would otherwise make a 30-day uptime silently cover fewer days.
    """
    horizon = retention.horizon(tier, now)
    if horizon is None:
        return None
    floor = now - REQUIRED_KEEP[tier]
    if horizon > floor:
        logger.warning(
            "%s: the retention policy keeps %s data %s day(s), less than the uptime windows read (%s); "
            "its availability buckets are kept that long",
            source or "retention",
            tier,
            (now - horizon).days,
            REQUIRED_KEEP[tier].days,
        )
        return floor
    return horizon


def known_sources(store: Store) -> list[str]:
    """Every source with data in the store, and every configured source (slugs only: no document is read)."""
    return sorted(set(store.latest_sources()) | set(configured_slugs()))


def apply_retention(
    store: MetricStore,
    archive_dir: Path,
    *,
    sources: list[str] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Progress = lambda message: None,
    policies: Mapping[str, Retention] | None = None,
    keep: Mapping[str, datetime] | None = None,
) -> list[SourceReport]:
    """Apply every source's policy (see the module docstring); one source's failure does not stop the rest.

    ``policies`` defaults to the RetentionPolicy rows in force for each source, ``keep`` (per source, the
    moment from which its rollups are kept whatever the policy) to what the apps above ask
    (``wanted_rollups``). Both read the default database; a caller passing both needs none.
    """
    target = rollup_store(store)
    now = now or datetime.now(UTC)
    slugs = sources if sources is not None else known_sources(target)
    if policies is None:
        policies = RetentionPolicy.objects.effective_all(slugs)
    if keep is None:
        keep = wanted_rollups(slugs, now)
    reports = []
    failures = 0
    for slug in slugs:
        started = time.monotonic()
        try:
            report = apply_to_source(
                target,
                slug,
                policies[slug],
                now,
                archive_dir,
                dry_run=dry_run,
                progress=progress,
                raw_pruner=store,
                keep_rollups_from=keep.get(slug),
            )
        except Exception:
            failures += 1
            logger.exception("retention failed for %s; its data is left as it was", slug)
            progress(f"{slug}: FAILED (see the log); nothing of it was deleted after the failure")
            continue
        reports.append(report)
        progress(f"{report.summary()} ({time.monotonic() - started:.1f}s)")
    if not dry_run and not failures:
        instruments.PRUNE_LAST_SUCCESS.set(time.time())
        instruments.ROLLUP_LAST_SUCCESS.set(time.time())
    if not dry_run and sources is None:
        # Other histories (the audit trail) age out on the same run; one source's failure does not keep them.
        for receiver, outcome in retention_applied.send_robust(sender=apply_retention, now=now, progress=progress):
            if isinstance(outcome, Exception):
                logger.error("retention: %s failed", getattr(receiver, "__qualname__", receiver), exc_info=outcome)
    if failures:
        raise RetentionFailed(f"retention failed for {failures} source(s); see the log")
    return reports


def wanted_rollups(slugs: list[str], now: datetime) -> dict[str, datetime]:
    """Per source, the earliest moment from which an app above metrics reads its rollups (``rollups_wanted``).

    When a receiver fails, every source keeps all its rollups this run: pruning them is never urgent, and
    what the receiver would have asked for is unknown.
    """
    wanted = set(slugs)
    keep: dict[str, datetime] = {}
    for receiver, outcome in rollups_wanted.send_robust(sender=apply_retention, slugs=list(slugs), now=now):
        if isinstance(outcome, Exception):
            logger.error(
                "retention: %s failed; no rollups are deleted this run",
                getattr(receiver, "__qualname__", receiver),
                exc_info=outcome,
            )
            return dict.fromkeys(slugs, KEEP_ALL)
        for slug, moment in (outcome or {}).items():
            if slug in wanted and (slug not in keep or moment < keep[slug]):
                keep[slug] = moment
    return keep


def roll_up_all(store: MetricStore, sources: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Only step 1 for every source: cheap, for the poller to run often."""
    target = rollup_store(store)
    result = {}
    for slug in sources if sources is not None else known_sources(target):
        try:
            result[slug] = roll_up(target, slug)
        except Exception:
            logger.exception("rollup failed for %s", slug)
    instruments.ROLLUP_LAST_SUCCESS.set(time.time())
    return result


class RetentionFailed(Exception):
    pass
