"""Archive files for pruned raw snapshots: ``ARCHIVE_DIR/<source>/<YYYY-MM-DD>.ndjson.gz``.

One gzip NDJSON file per source per UTC day, one history record per line (metrics.lifecycle.records),
ordered by (fetched_at, sequence). Writing is crash-safe and idempotent:

1. the day's entries are merged with what the file already holds, keyed by (source, sequence), so
   archiving the same entries twice never duplicates a line and a second batch of the same day
   (the day the retention horizon falls in) is added to it;
2. the merged file is written to a temporary file beside the final one, flushed and fsynced;
3. the temporary file is read back and checked (every line parses, the keys are exactly the
   expected ones, the content digest matches) and only then renamed over the final name, and the
   directory fsynced;
4. only after that does the caller delete the entries from the store.

A crash before 3 leaves the old file (or none) and the entries still in the store; a crash between
3 and 4 leaves a complete file and the entries still in the store, which the next run merges
without duplicates. Nothing is lost, nothing is duplicated.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from metrics.lifecycle.records import RecordFormatError, dumps, history_record, loads
from metrics.stores.base import HistoryEntry

_SAFE_SLUG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ArchiveError(Exception):
    """An archive file could not be written or does not hold what it should; nothing was deleted."""


@dataclass(frozen=True)
class ArchivedDay:
    path: Path
    entries: int  # lines in the file now
    added: int  # lines this call added


def day_path(root: Path, source: str, day: date) -> Path:
    if not _SAFE_SLUG.match(source):
        # Slugs are validated by the Source model; this guards the file system against anything else.
        raise ArchiveError(f"refusing to archive source {source!r}: not a slug")
    return root / source / f"{day.isoformat()}.ndjson.gz"


def read_lines(path: Path) -> list[str]:
    """The lines of an archive file; ArchiveError when it is unreadable or not ours."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = [line.rstrip("\n") for line in handle if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path} cannot be read ({exc}); fix or move it before pruning this day") from None
    for number, line in enumerate(lines, start=1):
        try:
            record = loads(line, number)
        except RecordFormatError as exc:
            raise ArchiveError(f"{path}: {exc}") from None
        if record["kind"] != "history":
            raise ArchiveError(f"{path}: line {number} is not a history record")
    return lines


def iter_entries(path: Path) -> Iterator[dict[str, object]]:
    for number, line in enumerate(read_lines(path), start=1):
        yield loads(line, number)


def _keys(line: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """(identity, order) of a line: (source, sequence) and (fetched_at, sequence)."""
    record = loads(line, 0)
    return (str(record["source"]), int(record["sequence"])), (str(record["fetched_at"]), int(record["sequence"]))


def archive_day(root: Path, source: str, day: date, entries: Iterable[HistoryEntry]) -> ArchivedDay:
    """Make the day's file hold ``entries`` as well as whatever it held; see the module docstring."""
    path = day_path(root, source, day)
    existing = read_lines(path) if path.exists() else []
    merged: dict[tuple[str, int], tuple[tuple[str, int], str]] = {}
    for line in existing:
        identity, order = _keys(line)
        merged[identity] = (order, line)
    added = 0
    for entry in entries:
        if entry.source != source:
            raise ArchiveError(f"entry of {entry.source!r} given for {source!r}")
        record = history_record(entry)
        identity = (entry.source, entry.sequence)
        if identity not in merged:
            added += 1
        merged[identity] = ((str(record["fetched_at"]), entry.sequence), dumps(record))
    if path.exists() and added == 0:
        return ArchivedDay(path=path, entries=len(existing), added=0)

    lines = [line for _, line in sorted(merged.values())]
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed:
            compressed.write(body)
            compressed.flush()
        # GzipFile closed first so its trailer is written, then the bytes forced to disk.
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        _verify(temporary, set(merged), digest)
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except OSError as exc:
        raise ArchiveError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if temporary.exists():
            temporary.unlink()
    return ArchivedDay(path=path, entries=len(lines), added=added)


def _verify(path: Path, keys: set[tuple[str, int]], digest: str) -> None:
    try:
        with gzip.open(path, "rb") as handle:
            body = handle.read()
    except (OSError, EOFError) as exc:
        raise ArchiveError(f"verification of {path} failed: {exc}") from None
    if hashlib.sha256(body).hexdigest() != digest:
        raise ArchiveError(f"verification of {path} failed: content differs from what was written")
    # Lines end with "\n" only: str.splitlines() also splits inside a JSON string at U+2028, U+2029 or U+0085,
    # which the writer leaves unescaped, and the day would then fail verification at every run.
    found = {_keys(line)[0] for line in body.decode("utf-8").split("\n") if line}
    if found != keys:
        raise ArchiveError(f"verification of {path} failed: {len(keys ^ found)} entries differ")


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
