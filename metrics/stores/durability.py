"""Whether a poll's writes wait for PostgreSQL's WAL flush at commit (``METRICS_SYNCHRONOUS_COMMIT``).

A changed poll commits one transaction (the latest row, its history entry and metric samples) and,
when the diff touches a watched path, a deploy marker. With ``synchronous_commit`` on (PostgreSQL's
default) each commit waits for its WAL record to reach the disk: milliseconds on ordinary disks
(3.5-5 ms a commit on the shared bench machine, against 0.2 ms for the same insert without the
wait), the largest part of a changed poll at concurrency 1. With it off *for these transactions
only*, the commit returns once the record is in the server's WAL buffers, and the WAL writer
flushes it within ``3 x wal_writer_delay`` (600 ms by default).

What that risks, and only on a crash of the PostgreSQL server or its host (never of a poller): the
polls committed in that last window are lost, whole transactions at a time (never a half-written
change, never corruption: the same guarantee as the embedded SQLite's ``synchronous=NORMAL``).
The next poll of each source stores the upstream's current document again. Accounts, rules, alert
states, tokens and everything else keep the server's own setting. docs/operations.md ("Durability of
poll writes") says the same for operators.

The switch is PostgreSQL's ``set_config('synchronous_commit', 'off', true)``, the function form of
``SET LOCAL``: evaluated inside a statement the poll sends anyway (the locked read of a change, the
marker's insert), so it costs no round trip, and it lasts until that transaction ends. A single
statement outside a transaction is its own transaction, so the marker's insert needs none.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

# Evaluated once per row it is selected with: the store's locked read returns exactly one row.
RELAX = "set_config('synchronous_commit', 'off', true)"


def relaxed(connection: Any) -> bool:
    """Whether a poll's commits on ``connection`` skip the WAL flush (PostgreSQL, the setting off)."""
    return connection.vendor == "postgresql" and not settings.METRICS_SYNCHRONOUS_COMMIT


def relax_column(connection: Any) -> str:
    """``, set_config(...)`` to append to a select list, or nothing when the commit must wait."""
    return f", {RELAX}" if relaxed(connection) else ""


def relax_from(connection: Any) -> str:
    """`` FROM (SELECT set_config(...)) AS relaxed`` for an ``INSERT ... SELECT`` of literal values, or nothing."""
    return f" FROM (SELECT {RELAX}) AS relaxed" if relaxed(connection) else ""
