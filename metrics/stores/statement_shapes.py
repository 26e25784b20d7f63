"""The SQL store's hot writes as fixed statement texts: rows travel as parameters, not as SQL.

Why: a multi-row ``INSERT ... VALUES (...), (...)`` has one SQL text per row count and a handful of
parameters per row. SQLite's driver keeps the last 128 prepared statements of each connection, keyed by
their text, each holding a program as large as its text: the upsert of a health batch's availability
cells had a new text for nearly every flush (its row count follows how many polls the batch holds), and
the cache filled with them, growing a poller's resident memory by about 2 MiB per 1,000 polls
(bench/memory.py, with the SQLite statement memory read off the connection). On PostgreSQL, psycopg
caches the parsing of a statement's placeholders only up to 50 parameters, so every such statement was
parsed again in Python, and Django's default cursor then quoted every value into the text.

So the rows go as data that the database unpacks: one array per column on PostgreSQL (``unnest``), one
JSON array of rows on SQLite (``json_each``). One text whatever the row count, prepared once, and on
PostgreSQL bound on the server (``bound_cursor``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def unpacked_rows(
    connection: Any, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> tuple[str, Any]:
    """A ``SELECT`` of ``rows`` for ``INSERT INTO t (columns) <select> WHERE true ...``, and its one parameter set.

    ``columns`` are (name, PostgreSQL type) pairs in the rows' order. Values are given as the database
    takes them (a SQLite datetime as the ORM's text): on SQLite they pass through JSON, so each must be
    a string, a number, a bool or None.
    """
    names = [name for name, _type in columns]
    if connection.vendor == "postgresql":
        # %b: each array travels in PostgreSQL's binary form, whose element dumpers are the driver's compiled
        # ones. psycopg's text form builds an array in Python, element by element (a quoting test on each):
        # a flush of 1,000 polls' availability cells (4,000 rows of 7 columns) took about 32 ms to bind in
        # text and 6 ms in binary, in every poll cycle. The casts, and so the rows, are the same.
        arrays = ", ".join(f"%b::{pg_type}[]" for _name, pg_type in columns)
        sql = f"SELECT * FROM unnest({arrays}) AS r({', '.join(names)})"  # noqa: S608 - names and types from the caller's code
        return sql, [[row[i] for row in rows] for i in range(len(columns))]
    picks = ", ".join(f"json_extract(r.value, '$[{i}]') AS {name}" for i, name in enumerate(names))
    return f"SELECT {picks} FROM json_each(%s) AS r", [json.dumps([list(row) for row in rows], allow_nan=False)]  # noqa: S608 - names from the caller's code


def bound_cursor(connection: Any) -> Any:
    """A cursor for the hot writes. On PostgreSQL it binds on the server: values (whole documents, arrays of
    rows) travel as parameters beside a fixed text, where Django's default cursor quotes each into the text
    on the client. Wrapped as Django wraps its own cursors, so query logging, execute wrappers and error
    translation still apply. It reads no timestamps: the connection's time zone loaders are not set up."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]  # psycopg 3 only

    connection.ensure_connection()
    return connection._prepare_cursor(ServerBindingCursor(connection.connection))
