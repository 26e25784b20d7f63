"""PostgreSQL: the stored documents (payloads of latest and history, history diffs) as their JSON text.

jsonb printed a double such as ``1.8446744073709552e+19`` back as the integer ``18446744073709552000``, so the
API served another document than the upstream's, a change diffed against a document read back listed such
numbers as changed, and a 304 recorded the read-back document as a change. The columns become ``text``
holding the JSON the store wrote (``metrics/fields.py`` says why text rather than ``json``): the previous
release reads and writes them as before while a rollout runs.

The type change rewrites ``metrics_latest`` and ``metrics_history`` under an exclusive lock, in time that
follows their size: writers (pollers) wait for it. The documents already stored keep jsonb's numbers, which
can no longer be told from integers; a source's first change after the migration may list such a number as
changed once, and from then on its stored document is the upstream's text. The payload columns stay
lz4-compressed (migration 0005): a type change resets a column's compression, so the same statement sets it
again, and a server without lz4 gets the type change alone. Reversible: back to jsonb, whose numbers the
documents then take. SQLite keeps JSON as text already: only Django's state changes there, no table is rebuilt.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, migrations, transaction

import metrics.fields

logger = logging.getLogger("metrics.migrations")
# table -> (its document columns, of which those compressed with lz4 since migration 0005)
TABLES = {
    "metrics_latest": (("payload",), ("payload",)),
    "metrics_history": (("payload", "diff"), ("payload",)),
}


def alter(schema_editor: Any, to_type: str, *, compress: bool) -> None:
    """Each table's document columns to ``to_type`` in one statement, so each table is rewritten once."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    for table, (columns, compressed) in TABLES.items():
        changes = [f"ALTER COLUMN {quote(column)} TYPE {to_type} USING {quote(column)}::{to_type}" for column in columns]
        if compress:
            changes += [f"ALTER COLUMN {quote(column)} SET COMPRESSION lz4" for column in compressed]
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {quote(table)} {', '.join(changes)}")


def change_type(schema_editor: Any, to_type: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            alter(schema_editor, to_type, compress=True)
    except DatabaseError as exc:
        logger.warning("the document columns take the server's default compression: %s", exc)
        alter(schema_editor, to_type, compress=False)


def to_text(apps: Any, schema_editor: Any) -> None:
    change_type(schema_editor, "text")


def to_jsonb(apps: Any, schema_editor: Any) -> None:
    change_type(schema_editor, "jsonb")


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0005_document_compression"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(to_text, to_jsonb, elidable=False)],
            state_operations=[
                migrations.AlterField(
                    model_name="latestsnapshot", name="payload", field=metrics.fields.DocumentField()
                ),
                migrations.AlterField(
                    model_name="historyentryrow", name="payload", field=metrics.fields.DocumentField()
                ),
                migrations.AlterField(
                    model_name="historyentryrow", name="diff", field=metrics.fields.DocumentField(default=list)
                ),
            ],
        ),
    ]
