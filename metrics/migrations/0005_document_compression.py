"""PostgreSQL: the stored documents (latest and history payloads) compressed with lz4 instead of pglz.

A change writes its document twice (the latest row and its history entry), and a document of a few
kilobytes is above PostgreSQL's TOAST threshold, so each write compresses it. pglz took about a tenth of
a change's write on the bench machine; lz4 compresses several times faster (and decompresses faster for
history reads) at a slightly lower ratio (docs/storage.md). Only values written from now on use it: no
table rewrite, and the ALTER is a catalog change under a brief lock.

A server built without lz4 refuses the method: the column keeps pglz and the migration still applies.
SQLite has no such setting: nothing to do there.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger("metrics.migrations")
COLUMNS = (("metrics_latest", "payload"), ("metrics_history", "payload"))


def set_compression(schema_editor: Any, method: str) -> list[str]:
    """``SET COMPRESSION method`` on each document column; the columns a server refused it for."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return []
    quote = connection.ops.quote_name
    refused = []
    for table, column in COLUMNS:
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} SET COMPRESSION {method}")
        except DatabaseError as exc:
            logger.warning("%s.%s keeps its compression: %s", table, column, exc)
            refused.append(f"{table}.{column}")
    return refused


def to_lz4(apps: Any, schema_editor: Any) -> None:
    set_compression(schema_editor, "lz4")


def to_pglz(apps: Any, schema_editor: Any) -> None:
    set_compression(schema_editor, "pglz")


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0004_availability_counts"),
    ]

    operations = [migrations.RunPython(to_lz4, to_pglz, elidable=False)]
