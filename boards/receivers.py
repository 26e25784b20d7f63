"""Deploy and change markers: a stored change whose diff touches a watched path records an annotation.

Connected to ``pollers.signals.change_stored`` and ``batch_flushed`` in ``BoardsConfig.ready``. Which
paths count is the setting ``BOARDS_ANNOTATION_PATHS`` (default: the top-level ``version`` and
``results.deployment.last_deployment``; docs/boards.md). Like every receiver of the poller's signals it
must not raise: a database failure here is logged and the marker is lost, the poll is not.

When the change comes from a poller with a health batch (``batched``: the poll command, the loop), the
marker waits in ``PENDING`` and is written with every other pending one in one statement when the poller
flushes that batch (``batch_flushed``, at most about a second later): its own INSERT and commit were a
noticeable part of a changed poll. A single poll (the admin's "poll now", the API) writes at once. A killed
poller loses what was pending, as it loses its batched health rows.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, cast

from django.conf import settings
from django.db import DatabaseError, connections, router
from django.db.models import Field
from django.utils import timezone

from boards.models import Annotation
from metrics.stores.base import FieldChange, RecordResult
from metrics.stores.durability import RELAX, relax_from, relaxed
from metrics.stores.sql import sqlite_write_lock
from metrics.stores.statement_shapes import bound_cursor, unpacked_rows
from pollers.models import Source

logger = logging.getLogger("boards")
MAX_TEXT = 500
# At most this many markers wait for the poller's next batch flush: the poll that adds the last one writes
# them all itself, so memory stays bounded when no flush comes (a batch nobody flushes). Far more than a
# second of changes, so a flushing poller never reaches it.
MAX_PENDING: Final = 500


def watched(changes: Iterable[FieldChange], patterns: Iterable[str]) -> list[FieldChange]:
    """The changes whose path matches one of ``patterns`` (``*`` matches any run of characters)."""
    matches = _matcher(tuple(patterns))
    return [change for change in changes if matches(change.path)]


@lru_cache(maxsize=16)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], object]:
    """One compiled expression for all the patterns: this runs on every field of every stored change (a
    hundred paths a document is common), where matching each path against each pattern in turn was a
    noticeable part of a changed poll. The setting is read per call, so a test's override still applies."""
    if not patterns:
        return lambda path: None
    return re.compile("|".join(f"(?:{fnmatch.translate(pattern)})" for pattern in patterns)).match


def describe(changes: list[FieldChange]) -> str:
    """One line: ``version v2.4.1 → v2.6.15; results.deployment.last_deployment …``."""

    def short(value: Any) -> str:
        text = "—" if value is None else str(value)
        return text if len(text) <= 60 else text[:59] + "…"

    parts = [f"{c.path} {short(c.old)} → {short(c.new)}" for c in changes]
    text = "; ".join(parts)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True, slots=True)
class Marker:
    """An automatic annotation waiting to be written: the row's values, its creation time taken when queued."""

    team_id: int
    source_id: int
    at: datetime
    text: str
    tags: list[str]
    created_at: datetime


class PendingMarkers:
    """The markers waiting for the poller's next ``batch_flushed``: one list for the process (every poll
    thread adds to it, any flush takes it all), bounded by ``bound``."""

    def __init__(self, bound: int = MAX_PENDING) -> None:
        self.bound = bound
        self._markers: list[Marker] = []
        self._lock = threading.Lock()

    def add(self, marker: Marker) -> list[Marker]:
        """Queue ``marker``; at the bound, every pending marker (now the caller's to write), else nothing."""
        with self._lock:
            self._markers.append(marker)
            if len(self._markers) < self.bound:
                return []
            markers, self._markers = self._markers, []
            return markers

    def take(self) -> list[Marker]:
        """Every pending marker, now the caller's to write (and to lose if that fails)."""
        with self._lock:
            markers, self._markers = self._markers, []
            return markers

    def __len__(self) -> int:
        with self._lock:
            return len(self._markers)


PENDING = PendingMarkers()


def on_change_stored(
    sender: Any,
    source: Source,
    record: RecordResult,
    fetched_at: datetime,
    poll_id: str,
    batched: bool = False,  # absent: nobody promised a flush, so write at once
    **kwargs: Any,
) -> None:
    found = watched(record.diff, settings.BOARDS_ANNOTATION_PATHS)
    if not found:
        return
    tags = ["deploy" if any(c.path == "version" or "deploy" in c.path for c in found) else "change"]
    if batched:
        full = PENDING.add(Marker(source.team_id, source.pk, fetched_at, describe(found), tags, timezone.now()))
        if full:
            _write_pending(full)
        return
    try:
        _insert_marker(source, fetched_at, describe(found), tags)
    except DatabaseError:
        logger.warning("annotation for %s (poll %s) not recorded", source.slug, poll_id, exc_info=True)


def on_batch_flushed(sender: Any, **kwargs: Any) -> None:
    """``pollers.signals.batch_flushed``: write every pending marker, whichever poll queued it."""
    markers = PENDING.take()
    if markers:
        _write_pending(markers)


def _write_pending(markers: list[Marker]) -> None:
    try:
        _insert_markers(markers)
    except DatabaseError:
        # Not put back: a statement that failed once (a source deleted meanwhile) would fail every flush.
        logger.warning("%d automatic annotations not recorded", len(markers), exc_info=True)


def _insert_marker(source: Source, at: datetime, text: str, tags: list[str]) -> None:
    """One INSERT, each value adapted by its model field as the ORM's ``create`` would (the same row).

    Not ``Annotation.objects.create``: in this bench's changed cycles every change is a deploy, and the
    model's save (signals, compiling, RETURNING the id nobody reads) was a sizeable part of a poll. On
    PostgreSQL the statement also lets its own commit skip the WAL flush, as the change it marks did,
    unless METRICS_SYNCHRONOUS_COMMIT (metrics/stores/durability.py).
    """
    connection = connections[router.db_for_write(Annotation)]
    meta = Annotation._meta
    values = {
        "team": source.team_id,
        "source": source.pk,
        "at": at,
        "text": text,
        "tags": tags,
        "kind": Annotation.Kind.AUTO.value,
        "created_by": None,
        "created_at": timezone.now(),
    }
    fields = [cast(Field, meta.get_field(name)) for name in values]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    # Names from the model; values are parameters.
    sql = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) SELECT {placeholders}"
    with connection.cursor() as cursor:
        cursor.execute(sql + relax_from(connection), params)


# The annotation's columns a marker fills, with the PostgreSQL type each is unpacked as (the column's own
# type, but text for the character columns: a cast to varchar(n) would cut a longer value where the
# ORM's INSERT fails).
_MARKER_COLUMNS: Final = (
    ("team", "int8"),
    ("source", "int8"),
    ("at", "timestamptz"),
    ("text", "text"),
    ("tags", "jsonb"),
    ("kind", "text"),
    ("created_by", "int8"),
    ("created_at", "timestamptz"),
)


def _insert_markers(markers: Sequence[Marker]) -> None:
    """Every marker in one INSERT (so one transaction) of a fixed text, the rows unpacked from one parameter
    per column (``metrics.stores.statement_shapes``), each value adapted by its model field as in
    ``_insert_marker``, the PostgreSQL commit relaxed the same way."""
    connection = connections[router.db_for_write(Annotation)]
    quote = connection.ops.quote_name
    meta = Annotation._meta
    fields = [cast(Field, meta.get_field(name)) for name, _type in _MARKER_COLUMNS]
    rows = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(
                fields,
                (m.team_id, m.source_id, m.at, m.text, m.tags, Annotation.Kind.AUTO.value, None, m.created_at),
                strict=True,
            )
        ]
        for m in markers
    ]
    names = [quote(field.column) for field in fields]
    select, params = unpacked_rows(connection, list(zip(names, (t for _n, t in _MARKER_COLUMNS), strict=True)), rows)
    # The rows' select has its own FROM: the relaxing one-row select joins it rather than ``relax_from``.
    relax = f", (SELECT {RELAX}) AS relaxed" if relaxed(connection) else ""
    picked = ", ".join(f"markers.{name}" for name in names)
    sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(names)}) SELECT {picked} FROM ({select}) AS markers{relax}"  # noqa: S608 - names from the model
    with _one_writer(connection), bound_cursor(connection) as cursor:
        cursor.execute(sql, params)


def _one_writer(connection: Any) -> AbstractContextManager[Any]:
    """On SQLite, the store's one-writer lock, as the poller's own batched writes take it (``Poller._writing``):
    a write beside them would wait in SQLite's busy handler instead. Other databases write concurrently."""
    return sqlite_write_lock(connection.alias) if connection.vendor == "sqlite" else nullcontext()
