"""Deploy and change markers: a stored change whose diff touches a watched path records an annotation.

Connected to ``pollers.signals.change_stored`` in ``BoardsConfig.ready``. Which paths count is the
setting ``BOARDS_ANNOTATION_PATHS`` (default: the top-level ``version`` and
``results.deployment.last_deployment``; docs/boards.md). Like every receiver of the poller's signals it
must not raise: a database failure here is logged and the marker is lost, the poll is not.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, connections, router
from django.db.models import Field
from django.utils import timezone

from boards.models import Annotation
from metrics.stores.base import FieldChange, RecordResult
from metrics.stores.durability import relax_from
from pollers.models import Source

logger = logging.getLogger("boards")
MAX_TEXT = 500


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


def on_change_stored(
    sender: Any, source: Source, record: RecordResult, fetched_at: datetime, poll_id: str, **kwargs: Any
) -> None:
    found = watched(record.diff, settings.BOARDS_ANNOTATION_PATHS)
    if not found:
        return
    tags = ["deploy" if any(c.path == "version" or "deploy" in c.path for c in found) else "change"]
    try:
        _insert_marker(source, fetched_at, describe(found), tags)
    except DatabaseError:
        logger.warning("annotation for %s (poll %s) not recorded", source.slug, poll_id, exc_info=True)


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
