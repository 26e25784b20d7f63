"""PostgreSQL: the store's fixed hot statements are prepared on the server once per connection
(DATABASE_PREPARED_STATEMENTS, devops_insights/config.py), and Django's own queries never are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from metrics.stores.base import SourceSpec
from metrics.stores.sql import SqlMetricStore
from tests.conftest import sql_alias

SPEC = SourceSpec("ap-southeast", metric_paths={"cpu": "cpu"})
T0 = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)


@pytest.fixture
def alias(postgres_url: str) -> str:
    return sql_alias("postgres")


def _prepared(alias: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(databases=["default", sql_alias("postgres")], transaction=True)
def test_it_prepares_a_change_at_its_fifth_run_and_stores_every_change(alias: str) -> None:
    store = SqlMetricStore(using=alias)
    connection = connections[alias]
    # A connection no earlier test ran the change statement on: psycopg counts a statement's runs per
    # connection, so one that had run it a few times would prepare it before this test's fifth.
    connection.close()
    if connection.settings_dict["OPTIONS"].get("pool"):
        connection.close_pool()
    connection.ensure_connection()
    # One connection for the whole test: a pooled checkout could lend another, holding none of it.
    assert connection.connection.prepare_threshold == 5
    store.record(SPEC, {"cpu": 0}, T0)  # the first row: the locked path
    changes = [store.record(SPEC, {"cpu": n}, T0 + timedelta(seconds=n)) for n in range(1, 5)]
    assert not any(text.startswith("WITH changed") for text in _prepared(alias))
    changes += [store.record(SPEC, {"cpu": n}, T0 + timedelta(seconds=n)) for n in range(5, 8)]
    assert [text for text in _prepared(alias) if text.startswith("WITH changed")] != []
    # Prepared or not, every change is stored with its diff and the next sequence.
    assert [(r.changed, r.sequence) for r in changes] == [(True, n + 1) for n in range(1, 8)]
    assert store.latest(SPEC.slug).payload == {"cpu": 7}
    page = store.history(SPEC.slug, limit=10)
    assert sorted(entry.sequence for entry in page.entries) == list(range(1, 9))
    # Django's own queries go through its client-side binding cursor: nothing of theirs is prepared.
    for _ in range(6):
        assert store.latest(SPEC.slug) is not None
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_class WHERE relname = %s", ["metrics_latest"])
    assert all("pg_class" not in text for text in _prepared(alias))
