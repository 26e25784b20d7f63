"""The database's clock, for expiries that processes on different hosts compare: one home for "now plus N
seconds" as the database reads it.

A lease or a lock written with one host's clock and checked against another's is taken early (or held late)
by as much as the two clocks differ. Written and compared as ``Now()`` in SQL, every process uses the one
clock they share. (SQLite's ``Now()`` is its host's clock, the only host an SQLite file has.)
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import DateTimeField, DurationField, ExpressionWrapper, Value
from django.db.models.functions import Now


def database_now_plus(seconds: float) -> ExpressionWrapper:
    """The database's clock plus ``seconds``, as an expression to write or compare in a query."""
    return ExpressionWrapper(
        Now() + Value(timedelta(seconds=seconds), output_field=DurationField()), output_field=DateTimeField()
    )
