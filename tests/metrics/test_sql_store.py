"""What the SQL store does beyond the shared contract: surviving a dropped database connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connections

from metrics.stores.base import SourceSpec, StoreError
from metrics.stores.sql import SqlMetricStore
from tests.conftest import sql_alias

ALIAS = sql_alias("postgres")
SPEC = SourceSpec("us-east", metric_paths={"cpu": "cpu"})
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.django_db(databases=[ALIAS], transaction=True)
def test_it_raises_a_store_error_then_recovers_when_the_connection_is_killed(postgres_url: str) -> None:
    store = SqlMetricStore(using=ALIAS)
    store.record(SPEC, {"cpu": 1}, T0)
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"), dbname="postgres", autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    # A read outside any transaction meets the dead connection first.
    with pytest.raises(StoreError, match=f"SQL metric store \\({ALIAS}\\) failed for us-east"):
        store.latest(SPEC.slug)
    # The poller's retry reconnects; nothing was lost or half-written.
    assert store.latest(SPEC.slug).payload == {"cpu": 1}  # type: ignore[union-attr]
    result = store.record(SPEC, {"cpu": 2}, T0 + timedelta(minutes=1))
    assert (result.changed, result.sequence) == (True, 2)
