"""Export a metric store to NDJSON records and import them into any store (metrics.lifecycle.records).

Export order is fixed (per source by slug: latest, history by sequence, rollups by tier, metric and
start), so exporting the same data twice gives the same bytes. An export holds at most a chunk of latest
snapshots (``EXPORT_LATEST_CHUNK``) and a page of history (``EXPORT_PAGE``) at a time. Import validates the whole input
before writing anything, and only adds: nothing already stored is lost or rewound, whatever the age
of the file.

- History entries already stored (same source and sequence) are kept; the file's are skipped.
- A stored latest snapshot is replaced only by a newer one: a higher sequence, or the same content seen
  later (``metrics.rollups.replaces_latest``). An older export never rewinds it.
- A rollup bucket already stored (same source, metric, tier and start) is kept and the file's skipped,
  never upserted nor merged: since the export the store may have grown the bucket (more samples, a new
  max), which the file's would rewind, and a merge would count twice every sample both hold (an export
  of the same store holds the same samples), while nothing in a bucket tells which samples it holds.
  A bucket the file holds and the store lacks (pruned, or another store's) is added.

``ImportResult`` counts what was added and what was kept, and import_metrics prints both.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from metrics import jsonlimits
from metrics.lifecycle.records import (
    FORMAT,
    FORMAT_VERSION,
    RecordFormatError,
    diff_parts,
    dumps,
    header_record,
    history_lines,
    latest_line,
    loads,
    parse_diff_part,
    parse_history,
    parse_latest,
    parse_rollup,
    rollup_record,
)
from metrics.lifecycle.retention import rollup_store
from metrics.rollups import TIERS, RollupBucket
from metrics.stores.base import HistoryEntry, MetricStore, Snapshot

BATCH = 500
# History entries an export holds at once: it reads a source's history a page at a time in sequence order
# (MetricStore.history_in_order), so its memory follows the page, not the history's length.
EXPORT_PAGE = 500
# Latest snapshots an export holds at once: it lists the sources (MetricStore.latest_sources, slugs only) and
# reads their snapshots this many at a time (latest_of), so its memory follows the chunk, not the sources' count.
EXPORT_LATEST_CHUNK = 100


def history_in_order(store: MetricStore, source: str) -> Iterator[HistoryEntry]:
    """Every entry of the source, lowest sequence first, read ``EXPORT_PAGE`` at a time."""
    after = None
    while True:
        page = store.history_in_order(source, after=after, limit=EXPORT_PAGE)
        yield from page
        if len(page) < EXPORT_PAGE:
            return
        after = page[-1].sequence


def export_lines(store: MetricStore, sources: Iterable[str] | None = None) -> Iterator[tuple[str, str]]:
    """(kind, line) of every line of the export, in order; every line within the import's budget
    (``jsonlimits.import_record_budget``), else RecordTooLargeError (metrics.lifecycle.records)."""
    target = rollup_store(store)
    budget = jsonlimits.import_record_budget()
    slugs = sorted(set(sources) if sources is not None else store.latest_sources())
    yield "header", dumps(header_record())
    latest: dict[str, Snapshot] = {}
    for at, slug in enumerate(slugs):
        if at % EXPORT_LATEST_CHUNK == 0:
            # Each snapshot is popped as it is written, so the previous chunk is gone before this one is read.
            latest = store.latest_of(slugs[at : at + EXPORT_LATEST_CHUNK])
        if slug in latest:
            yield "latest", latest_line(latest.pop(slug), budget)
        for entry in history_in_order(store, slug):
            first, *parts = history_lines(entry, budget)
            yield "history", first
            for part in parts:
                yield "diff", part
        for tier in TIERS:
            for bucket in target.rollups(slug, tier):
                yield "rollup", dumps(rollup_record(bucket))


@contextmanager
def opened(path: str, mode: str) -> Iterator[IO[str]]:
    """``-`` is stdin/stdout (left open); a name ending in .gz is gzip; ``mode`` is "r" or "w"."""
    if path == "-":
        yield sys.stdout if mode == "w" else sys.stdin
        return
    handle: IO[str]
    raw: IO[bytes] | None = None
    if path.endswith(".gz"):
        raw = open(path, mode + "b")  # noqa: SIM115 - closed below
        # No file name and mtime 0 in the gzip header: the same export gives the same bytes.
        handle = io.TextIOWrapper(gzip.GzipFile(filename="", mode=mode + "b", fileobj=raw, mtime=0), encoding="utf-8")
    else:
        handle = open(path, mode, encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield handle
    finally:
        handle.close()
        if raw is not None:
            raw.close()


def write_export(store: MetricStore, handle: IO[str], sources: Iterable[str] | None = None) -> dict[str, int]:
    """Lines written per kind (``diff``: the parts of diffs too wide for their entry's line)."""
    counts = {"latest": 0, "history": 0, "diff": 0, "rollup": 0}
    for kind, line in export_lines(store, sources):
        handle.write(line + "\n")
        if kind in counts:
            counts[kind] += 1
    return counts


@dataclass
class ImportResult:
    latest: int = 0  # latest snapshots written (new sources, or newer than the stored one)
    latest_kept: int = 0  # the stored snapshot was as new or newer: the file's skipped
    history_read: int = 0
    history_added: int = 0  # the rest were already stored and kept
    rollups_read: int = 0
    rollups: int = 0  # buckets added; the rest were already stored and kept
    sources: set[str] = field(default_factory=set)

    @property
    def history_kept(self) -> int:
        return self.history_read - self.history_added

    @property
    def rollups_kept(self) -> int:
        return self.rollups_read - self.rollups

    def summary(self) -> str:
        """What was added and what was kept: import_metrics' last line."""
        return (
            f"{len(self.sources)} source(s); latest: {self.latest} written, {self.latest_kept} kept (stored as new "
            f"or newer); {self.history_added} of {self.history_read} history entries added, {self.history_kept} "
            f"kept (already stored); {self.rollups} of {self.rollups_read} rollups added, {self.rollups_kept} kept "
            "(already stored)"
        )


@dataclass
class _Parts:
    """The diff parts still due after a history record with ``diff_parts``."""

    source: str
    sequence: int
    total: int
    next: int = 1

    def __str__(self) -> str:
        return f"history entry {self.sequence} of {self.source} ({self.next - 1} of {self.total} diff parts)"


def validate(lines: Iterable[str]) -> int:
    """Check every line before anything is written; RecordFormatError names the first bad one."""
    count = 0
    due: _Parts | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = loads(line, number)
        try:
            kind = record["kind"]
            if due is not None and kind != "diff":
                raise RecordFormatError(f"a {kind} record where the next diff part of {due} was due")
            if kind == "header":
                if record.get("format") != FORMAT or record.get("version") != FORMAT_VERSION:
                    raise RecordFormatError(f"not a {FORMAT} version {FORMAT_VERSION} file")
            elif kind == "history":
                entry = parse_history(record)
                if parts := diff_parts(record):
                    due = _Parts(entry.source, entry.sequence, parts)
            elif kind == "diff":
                source, sequence, part, _ = parse_diff_part(record)
                if due is None or (source, sequence, part) != (due.source, due.sequence, due.next):
                    expected = f"; expected part {due.next} of {due}" if due is not None else ""
                    raise RecordFormatError(
                        f"diff part {part} of history entry {sequence} of {source} out of place{expected}"
                    )
                due.next += 1
                if due.next > due.total:
                    due = None
            elif kind == "latest":
                parse_latest(record)
            else:
                parse_rollup(record)
        except RecordFormatError as exc:
            raise RecordFormatError(f"line {number}: {exc}") from None
        count += 1
    if due is not None:
        raise RecordFormatError(f"the file ends before the last diff part of {due}")
    return count


def import_lines(
    store: MetricStore, lines: Iterable[str], progress: Callable[[str], None] = lambda message: None
) -> ImportResult:
    """Write already validated lines (see ``validate``) into ``store``."""
    target = rollup_store(store)
    result = ImportResult()
    history: list[HistoryEntry] = []
    rollups: list[RollupBucket] = []

    def flush() -> None:
        if history:
            result.history_added += target.restore_history(history)
            history.clear()
        if rollups:
            result.rollups += target.add_rollups(rollups)
            rollups.clear()

    wide: HistoryEntry | None = None  # an entry whose diff parts follow (validated: they all do, in order)
    due = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = loads(line, number)
        kind = record["kind"]
        if kind == "history":
            entry = parse_history(record)
            due = diff_parts(record)
            if due:
                wide = entry
                continue
            history.append(entry)
            result.history_read += 1
            result.sources.add(entry.source)
        elif kind == "diff" and wide is not None:
            wide.diff.extend(parse_diff_part(record)[3])
            due -= 1
            if due == 0:
                history.append(wide)
                result.history_read += 1
                result.sources.add(wide.source)
                wide = None
        elif kind == "latest":
            snapshot = parse_latest(record)
            flush()  # history before its latest, as record() leaves them
            if target.restore_latest(snapshot):
                result.latest += 1
            else:
                result.latest_kept += 1
            result.sources.add(snapshot.source)
        elif kind == "rollup":
            rollups.append(parse_rollup(record))
            result.rollups_read += 1
        if len(history) >= BATCH or len(rollups) >= BATCH:
            flush()
            progress(f"{number} lines imported")
    flush()
    return result


def read_lines(path: str | Path) -> Iterator[str]:
    with opened(str(path), "r") as handle:
        for line in handle:
            yield line.rstrip("\n")
