"""PostgreSQL keeps the stored documents lz4-compressed (metrics migration 0005), and a server that refuses
a method leaves the column as it was without failing the migration."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from metrics.stores.base import SourceSpec
from metrics.stores.sql import SqlMetricStore

migration = importlib.import_module("metrics.migrations.0005_document_compression")
pytestmark = pytest.mark.django_db(transaction=True)


def _compression(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'payload'", [table]
        )
        return str(cursor.fetchone()[0])


@pytest.fixture
def postgres_default() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the default database is not PostgreSQL")


@pytest.mark.usefixtures("postgres_default")
def test_it_compresses_both_document_columns_with_lz4_and_reads_them_back() -> None:
    assert [_compression(table) for table, _column in migration.COLUMNS] == ["l", "l"]
    # A document well above the TOAST threshold, stored twice (latest and history), reads back whole.
    document = {"items": [{"name": f"service-{i}", "ok": i % 3 != 0, "latency": i * 1.5} for i in range(400)]}
    store = SqlMetricStore()
    spec = SourceSpec("big")
    at = datetime(2026, 12, 5, tzinfo=UTC)
    store.record(spec, {"items": []}, at)
    store.record(spec, document, at + timedelta(seconds=1))
    assert store.latest("big").payload == document  # type: ignore[union-attr]
    assert store.history("big", limit=1).entries[0].payload == document
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(payload) FROM metrics_history WHERE sequence = 2")
        assert cursor.fetchone()[0] == "lz4"


@pytest.mark.usefixtures("postgres_default")
def test_it_leaves_the_columns_as_they_were_when_the_server_refuses_the_method() -> None:
    with connection.schema_editor() as editor:
        refused = migration.set_compression(editor, "no_such_method")
    assert refused == ["metrics_latest.payload", "metrics_history.payload"]
    assert [_compression(table) for table, _column in migration.COLUMNS] == ["l", "l"]
    with connection.schema_editor() as editor:  # and back, as the migration's reverse does
        assert migration.set_compression(editor, "pglz") == []
    assert [_compression(table) for table, _column in migration.COLUMNS] == ["p", "p"]
    with connection.schema_editor() as editor:
        migration.set_compression(editor, "lz4")


def test_it_does_nothing_on_sqlite() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the default database is not SQLite")
    with connection.schema_editor() as editor:
        assert migration.set_compression(editor, "lz4") == []
