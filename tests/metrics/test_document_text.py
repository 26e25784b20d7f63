"""PostgreSQL keeps the stored documents as their JSON text (metrics migration 0006, metrics/fields.py): the
migration's way there and back, on a real server. What the documents read back as is the store contract's
(tests/metrics/test_store_contract.py, numbers as the upstream wrote them)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connections

from metrics.extraction import canonical_json
from metrics.stores.base import SourceSpec
from metrics.stores.sql import SqlMetricStore
from tests.conftest import sql_alias

migration = importlib.import_module("metrics.migrations.0006_document_text")
ALIAS = sql_alias("postgres")
# The default database too: the flush after a transactional test runs post_migrate receivers that read it.
pytestmark = pytest.mark.django_db(databases=sorted({"default", ALIAS}), transaction=True)
T0 = datetime(2026, 12, 5, tzinfo=UTC)
SPEC = SourceSpec("big")
COLUMNS = ("metrics_latest.payload", "metrics_history.payload", "metrics_history.diff")


@pytest.fixture(autouse=True)
def _postgres(postgres_url: str) -> None:
    """The contract's PostgreSQL database (skips, or fails under CI, without a server)."""


def _columns() -> dict[str, tuple[str, str]]:
    """Type and compression ("l" lz4, "" the server's default) of each document column."""
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text || '.' || attname, atttypid::regtype::text, attcompression::text "
            "FROM pg_attribute WHERE attrelid IN ('metrics_latest'::regclass, 'metrics_history'::regclass) "
            "AND attname IN ('payload', 'diff')"
        )
        return {name: (kind, compression) for name, kind, compression in cursor.fetchall()}


def _migrate(step: Any) -> None:
    with connections[ALIAS].schema_editor() as editor:
        step(None, editor)


def test_it_turns_the_document_columns_into_text_and_back_into_jsonb_keeping_every_document() -> None:
    assert _columns() == {
        "metrics_latest.payload": ("text", "l"),
        "metrics_history.payload": ("text", "l"),
        "metrics_history.diff": ("text", ""),
    }
    store = SqlMetricStore(using=ALIAS)
    store.record(SPEC, {"counter": 1.8446744073709552e19, "n": 1}, T0)
    store.record(SPEC, {"counter": 1.8446744073709552e19, "n": 2}, T0 + timedelta(seconds=1))
    try:
        _migrate(migration.to_jsonb)
        assert {name: kind for name, (kind, _compression) in _columns().items()} == dict.fromkeys(COLUMNS, "jsonb")
        # What the releases before wrote: jsonb's numbers.
        SqlMetricStore(using=ALIAS).record(SPEC, {"counter": 1e16, "n": 3}, T0 + timedelta(seconds=2))
    finally:
        _migrate(migration.to_text)
    assert _columns()["metrics_latest.payload"] == ("text", "l")
    assert _columns()["metrics_history.payload"] == ("text", "l")
    reader = SqlMetricStore(using=ALIAS)
    [third, second, first] = reader.history(SPEC.slug).entries
    # Every document and diff is still there; the way back to jsonb gave them jsonb's numbers, and what was
    # written while the column was jsonb keeps them, as rows from before the migration do.
    assert canonical_json(first.payload) == canonical_json({"counter": 18446744073709552000, "n": 1})
    assert [(change.path, change.old, change.new) for change in second.diff] == [("n", 1, 2)]
    assert canonical_json(third.payload) == canonical_json({"counter": 10000000000000000, "n": 3})
    # The next change is stored as its text again.
    reader.record(SPEC, {"counter": 1e16, "n": 4}, T0 + timedelta(seconds=3))
    latest = SqlMetricStore(using=ALIAS).latest(SPEC.slug)
    assert latest is not None
    assert canonical_json(latest.payload) == canonical_json({"counter": 1e16, "n": 4})
