"""The document each source's latest row holds, as this process stored it: the base of its next diff.

A change is diffed against the stored document. Reading that document back costs the locked read of
the latest row, a round trip of its own on PostgreSQL before the write can go out. A poller stores
nearly every change of its sources itself (leases keep a source on one poller), so it already holds
the document it wrote last: kept here, with the hash and sequence it was stored under, a change can
be diffed before any statement and written in one conditional statement (``SqlMetricStore``).

Only a hint, never trusted for what is stored: the write applies only while the latest row still
holds that hash and sequence, and otherwise the store falls back to the locked read. So an entry
left behind by another writer's change, an import or a deleted source costs one statement, never a
wrong diff.

Bounded by the bytes of the documents' canonical JSON (``METRICS_DIFF_BASE_CACHE_BYTES``), least
recently stored first out: the text, not the parsed document, because a parsed document takes
several times its text in memory and is parsed again in tens of microseconds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple


class DiffBase(NamedTuple):
    hash: str
    sequence: int
    canonical: str  # the stored payload's canonical JSON


class DiffBases:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, DiffBase] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, source: str) -> DiffBase | None:
        with self._lock:
            return self._entries.get(source)

    def put(self, source: str, digest: str, sequence: int, canonical: str) -> None:
        """Remember what was just stored for ``source``; a document above the whole budget is not kept."""
        size = len(canonical)  # characters, not UTF-8 bytes: an estimate that avoids encoding each document
        with self._lock:
            self._drop(source)
            if size > self.max_bytes:
                return
            self._entries[source] = DiffBase(digest, sequence, canonical)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def drop(self, source: str) -> None:
        with self._lock:
            self._drop(source)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _drop(self, source: str) -> None:
        old = self._entries.pop(source, None)
        if old is not None:
            self._bytes -= len(old.canonical)
