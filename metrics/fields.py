"""The column of a stored document (a snapshot's payload, a history entry's payload and diff).

PostgreSQL ``text`` holding the JSON text the store wrote, rather than Django's ``jsonb``. jsonb keeps numbers
as ``numeric`` and prints them in plain decimal, so the JSON written is not the JSON read back:
``1.8446744073709552e+19`` (a double) reads back as the integer ``18446744073709552000``, every double from 1e16
up turns into an integer the same way (``1e300`` into 301 digits), and ``-0.0`` into ``0.0``. The API then
served another document than the upstream sent; a change diffed against a document read back (the locked path,
the first change after a restart) named those numbers as changed fields; and a 304 answer, which records the
stored document again (``pollers.conditional``), stored a change that never happened, as the read-back
document's hash was not the upstream document's.

The text is the canonical JSON (``metrics.extraction.canonical_json``, numbers as Python's shortest
round-tripping ``repr``), or Django's encoding of the same values, so a document reads back as the same Python
values, number types included, as the freshly parsed one. Why not compare numbers by value on both sides
instead: the diff tells 1 from 1.0 on purpose (different JSON), ``10**300`` is not the double ``1e300`` either,
and the API would still serve jsonb's numbers. Why ``text`` and not ``json`` (which keeps its text too): the
release before this one reads these columns through Django's ``JSONField``, which takes the text of a jsonb or
text column but fails on a json column (psycopg hands it an object already parsed), so its pods could not read
a document while a rollout runs; from a text column they read as before, and their writes (jsonb values) are
cast to its text. Nothing queries inside these columns (no jsonb operator, no index on them), which is all
jsonb gave, and writing text skips building jsonb's binary form. The store writes only JSON it encoded itself.
SQLite keeps JSON as text already: there the column is Django's, unchanged.

A metrics object stays ``jsonb`` (``jsonb_each_text`` unpacks it into samples): its values are doubles, read
back with ``float()``, which gives the same double for every finite value jsonb printed.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models


class DocumentField(models.JSONField):
    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "text"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql" or hasattr(value, "as_sql"):
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        # The JSON text itself: Django's adapter sends jsonb, whose cast into this column would keep jsonb's
        # numbers, the very change this column avoids. Encoded as Django encodes a JSONField on SQLite.
        return json.dumps(value, cls=self.encoder)
