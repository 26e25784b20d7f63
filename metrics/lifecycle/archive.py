"""Archive files for pruned raw snapshots: ``ARCHIVE_DIR/<source>/<YYYY-MM-DD>.ndjson.gz``.

One gzip NDJSON file per source per UTC day, one history entry after another ordered by (fetched_at,
sequence), each written by the export's own writer (``metrics.lifecycle.records.history_lines``): its
``history`` line, followed by its ``diff`` lines when its diff is too wide for one line. So every line is
within the import's budget and ``import_metrics`` restores an archive file as it restores an export.
Writing is crash-safe and idempotent:

1. the day's entries are merged with what the file already holds, keyed by (source, sequence), so
   archiving the same entries twice never duplicates a line and a second batch of the same day
   (the day the retention horizon falls in) is added to it;
2. the merged file is written to a temporary file beside the final one, flushed and fsynced;
3. the temporary file is read back and checked (every line parses, every entry's diff parts follow it
   in order, the keys are exactly the expected ones, the content digest matches) and only then renamed
   over the final name, and the directory fsynced;
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from metrics import jsonlimits
from metrics.lifecycle.records import (
    RecordFormatError,
    RecordTooLargeError,
    diff_parts,
    history_lines,
    iso,
    loads,
    parse_diff_part,
    parse_history,
)
from metrics.stores.base import HistoryEntry

_SAFE_SLUG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ArchiveError(Exception):
    """An archive file could not be written or does not hold what it should; nothing was deleted."""


@dataclass(frozen=True)
class ArchivedDay:
    path: Path
    entries: int  # history entries in the file now
    added: int  # history entries this call added


@dataclass(frozen=True)
class _Entry:
    """One history entry of a file: its lines as ``records.history_lines`` writes them."""

    identity: tuple[str, int]  # (source, sequence)
    order: tuple[str, int]  # (fetched_at, sequence)
    lines: tuple[str, ...]


def day_path(root: Path, source: str, day: date) -> Path:
    if not _SAFE_SLUG.match(source):
        # Slugs are validated by the Source model; this guards the file system against anything else.
        raise ArchiveError(f"refusing to archive source {source!r}: not a slug")
    return root / source / f"{day.isoformat()}.ndjson.gz"


def read_lines(path: Path) -> list[str]:
    """The lines of an archive file; ArchiveError when it is unreadable or not ours."""
    lines = _read(path)
    _entries(path, lines)
    return lines


def _read(path: Path) -> list[str]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return [line.rstrip("\n") for line in handle if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path} cannot be read ({exc}); fix or move it before pruning this day") from None


def _entries(path: Path, lines: list[str]) -> list[_Entry]:
    """The entries the lines hold: each a ``history`` line and the ``diff`` parts it announces, in order."""
    entries = []
    at = 0
    while at < len(lines):
        number = current = at + 1
        try:
            record = loads(lines[at], number)
            if record["kind"] != "history":
                raise RecordFormatError(f"line {number} is not a history record")
            entry = parse_history(record)
            parts = diff_parts(record)
            for part in range(1, parts + 1):
                current = number + part
                if at + part >= len(lines):
                    raise RecordFormatError(f"the file ends before diff part {part} of line {number}")
                following = loads(lines[at + part], current)
                expected = (entry.source, entry.sequence, part)
                if following["kind"] != "diff" or parse_diff_part(following)[:3] != expected:
                    raise RecordFormatError(f"line {current} is not diff part {part} of line {number}")
        except RecordFormatError as exc:
            # The parsers name the field, not the line: say which.
            where = "" if str(exc).startswith("line ") else f"line {current}: "
            raise ArchiveError(f"{path}: {where}{exc}") from None
        identity = (entry.source, entry.sequence)
        entries.append(_Entry(identity, (str(record["fetched_at"]), entry.sequence), tuple(lines[at : at + 1 + parts])))
        at += 1 + parts
    return entries


def archive_day(root: Path, source: str, day: date, entries: Iterable[HistoryEntry]) -> ArchivedDay:
    """Make the day's file hold ``entries`` as well as whatever it held; see the module docstring."""
    path = day_path(root, source, day)
    existing = _entries(path, _read(path)) if path.exists() else []
    merged = {entry.identity: entry for entry in existing}
    budget = jsonlimits.import_record_budget()
    added = 0
    for entry in entries:
        if entry.source != source:
            raise ArchiveError(f"entry of {entry.source!r} given for {source!r}")
        try:
            # The export's writer, so that an archive file imports wherever an export does.
            own = tuple(history_lines(entry, budget))
        except RecordTooLargeError as exc:
            raise ArchiveError(f"{path}: {exc}") from None
        identity = (entry.source, entry.sequence)
        if identity not in merged:
            added += 1
        merged[identity] = _Entry(identity, (iso(entry.fetched_at), entry.sequence), own)
    if path.exists() and added == 0:
        return ArchivedDay(path=path, entries=len(existing), added=0)

    lines = [line for archived in sorted(merged.values(), key=lambda e: e.order) for line in archived.lines]
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
    return ArchivedDay(path=path, entries=len(merged), added=added)


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
    found = {entry.identity for entry in _entries(path, [line for line in body.decode("utf-8").split("\n") if line])}
    if found != keys:
        raise ArchiveError(f"verification of {path} failed: {len(keys ^ found)} entries differ")


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
