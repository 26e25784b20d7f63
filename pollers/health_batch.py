"""Routine health writes, batched: a good poll of a healthy source only moves times and latency.

At scale nearly every poll is one of those, and writing each costs a round trip (and on SQLite the
write lock). ``HealthBatch`` keeps the newest such fields per source and writes them for many
sources in one call (one UPDATE statement for all of them) when the batch
is full or old enough. Anything that changes a source's health (a failure, a recovery, the circuit)
is written at once by the poller, together with whatever was still pending for that source
(``take``), so a later flush can never put an older time back. Readers see ``last_polled_at`` and
``last_success_at`` at most ``max_age`` seconds late.

The same batch holds each poll's availability sample (``add_sample``), written by the poller's
flush in one statement for many polls instead of one upsert per poll: with it, an unchanged poll
of a healthy source costs the store's one read and nothing else until the flush. Counts appear in
availability reads at most ``max_age`` seconds late, and a killed poller loses at most that much.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Final, cast

from django.db import connections, router, transaction
from django.db.models import Field

from metrics.stores.base import PollSample
from metrics.stores.statement_shapes import bound_cursor, unpacked_rows
from pollers.models import Source

ROUTINE_FIELDS: Final = ("last_polled_at", "last_latency_ms", "last_status_code", "last_success_at")


class HealthBatch:
    def __init__(self, max_rows: int = 200, max_age: float = 1.0) -> None:
        self.max_rows = max_rows
        self.max_age = max_age
        self._pending: dict[int, dict[str, Any]] = {}  # one entry per source: bounded by the sources
        self._oldest = 0.0
        self._samples: list[tuple[str, PollSample]] = []  # bounded: flushed when due like the rows
        self._lock = threading.Lock()

    def add(self, pk: int, changes: dict[str, Any]) -> bool:
        """Remember a routine write; True when the batch is due for a flush."""
        with self._lock:
            if not self._pending and not self._samples:
                self._oldest = time.monotonic()
            self._pending[pk] = {name: changes[name] for name in ROUTINE_FIELDS}
            return len(self._pending) >= self.max_rows or time.monotonic() - self._oldest >= self.max_age

    def add_sample(self, source: str, sample: PollSample) -> bool:
        """Remember a poll's availability sample; True when the batch is due for a flush."""
        with self._lock:
            if not self._pending and not self._samples:
                self._oldest = time.monotonic()
            self._samples.append((source, sample))
            return len(self._samples) >= self.max_rows or time.monotonic() - self._oldest >= self.max_age

    def take_samples(self) -> list[tuple[str, PollSample]]:
        """Every pending availability sample, now the caller's to write (and to drop if that fails)."""
        with self._lock:
            samples, self._samples = self._samples, []
            return samples

    def take(self, pk: int) -> dict[str, Any]:
        """What is still pending for one source (now the caller's to write), or nothing."""
        with self._lock:
            return self._pending.pop(pk, {})

    def due(self) -> bool:
        with self._lock:
            return bool(self._pending or self._samples) and time.monotonic() - self._oldest >= self.max_age

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)  # health rows; the samples ride along

    def flush(self) -> int:
        """Write everything pending in one UPDATE (per ``max_rows``); return how many sources it wrote."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            _write(pending)
        except Exception:
            # Put them back (unless a newer write for the source came meanwhile) for the next flush.
            with self._lock:
                for pk, fields in pending.items():
                    self._pending.setdefault(pk, fields)
                self._oldest = time.monotonic()
            raise
        return len(pending)


# The routine fields as the PostgreSQL statement unpacks them: (name, type) in the rows' order.
_ROW_TYPES: Final = (
    ("id", "int8"),
    ("last_polled_at", "timestamptz"),
    ("last_latency_ms", "float8"),
    ("last_status_code", "int2"),
    ("last_success_at", "timestamptz"),
)


def _write(pending: dict[int, dict[str, Any]]) -> None:
    """Every pending row written at once, in the order of the rows' keys (two writers never wait on each
    other's rows in opposite orders).

    PostgreSQL: one ``UPDATE ... FROM`` of the rows unpacked from one array per column
    (``metrics/stores/statement_shapes.py``): one statement, bound on the server, atomic on its own, where a
    statement executed for every row cost the client a parameter set per row. SQLite: one parameterised
    UPDATE that its driver steps through for every row, in C, in one transaction. Not ``bulk_update``: its
    CASE expression per field and row costs milliseconds of query building per row.
    """
    connection = connections[router.db_for_write(Source)]
    ops = connection.ops
    meta = Source._meta
    rows = [
        [
            pk,
            ops.adapt_datetimefield_value(fields["last_polled_at"]),
            fields["last_latency_ms"],
            fields["last_status_code"],
            ops.adapt_datetimefield_value(fields["last_success_at"]),
        ]
        for pk, fields in sorted(pending.items())
    ]
    table, pk_column = ops.quote_name(meta.db_table), ops.quote_name(meta.pk.column)
    names = [(ops.quote_name(cast(Field, meta.get_field(name)).column), name) for name in ROUTINE_FIELDS]
    if connection.vendor == "postgresql":
        select, params = unpacked_rows(connection, _ROW_TYPES, rows)
        assignments = ", ".join(f"{column} = r.{name}" for column, name in names)
        sql = f"UPDATE {table} SET {assignments} FROM ({select}) AS r WHERE {table}.{pk_column} = r.id"  # noqa: S608 - names from the model
        with bound_cursor(connection) as cursor:
            cursor.execute(sql, params)
        return
    columns = ", ".join(f"{column} = %s" for column, _name in names)
    sql = f"UPDATE {table} SET {columns} WHERE {pk_column} = %s"  # noqa: S608 - names from the model
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        cursor.executemany(sql, [[*row[1:], row[0]] for row in rows])
