"""Multi-row writes come in a few SQL texts whatever their row count (metrics/stores/statement_shapes.py).

A text per row count filled SQLite's per-connection statement cache with large programs and grew a
poller's memory; these tests count the distinct texts of the availability upsert (one per health batch
flush, a different number of cells nearly every time), and check every count still lands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from metrics.models import AvailabilityCount
from metrics.stores.base import PollSample
from metrics.stores.sql import SqlMetricStore
from metrics.stores.sql_availability import UPSERT_BATCH
from metrics.stores.statement_shapes import power_of_two_runs
from tests.conftest import sql_alias

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SQL_KINDS = [
    pytest.param(kind, marks=pytest.mark.django_db(databases=[sql_alias(kind)], transaction=True), id=kind)
    for kind in ("sqlite", "postgres")
]


def test_it_cuts_rows_into_power_of_two_runs_in_order() -> None:
    for count in range(0, 300):
        rows = list(range(count))
        runs = [list(run) for run in power_of_two_runs(rows, 64)]
        assert [row for run in runs for row in run] == rows
        assert all(len(run) & (len(run) - 1) == 0 and 1 <= len(run) <= 64 for run in runs)
        # Greedy: only the last runs below the largest size, at most one run of each smaller size.
        smaller = [len(run) for run in runs if len(run) < 64]
        assert smaller == sorted(set(smaller), reverse=True)
    assert [len(run) for run in power_of_two_runs(list(range(37)), 64)] == [32, 4, 1]


@pytest.mark.parametrize("largest", [0, 3, 100, -8])
def test_it_refuses_a_largest_run_that_is_not_a_power_of_two(largest: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        list(power_of_two_runs([1, 2, 3], largest))


def _texts(captured: CaptureQueriesContext, table: str) -> set[int]:
    """The statement texts of the multi-row inserts into ``table``, told apart by their number of rows."""
    inserts = [query["sql"] for query in captured.captured_queries if query["sql"].startswith(f'INSERT INTO "{table}"')]
    return {sql.count("), (") + 1 for sql in inserts}


@pytest.fixture(params=SQL_KINDS)
def store(request: pytest.FixtureRequest) -> SqlMetricStore:
    """The SQL store on SQLite and on PostgreSQL (the statement texts are what is counted, not the contract)."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")
    return SqlMetricStore(using=sql_alias(request.param))


def test_it_upserts_any_number_of_availability_cells_in_a_few_statement_texts(store: SqlMetricStore) -> None:
    alias = store.using
    polls = 0
    with CaptureQueriesContext(connections[alias]) as captured:
        for count in range(1, 120):  # one flush of `count` sources' polls: 3 cells (tiers) each
            at = T0 + timedelta(minutes=count)
            store.record_poll_outcomes([(f"s-{i:03d}", PollSample(at, True, 12.0)) for i in range(count)])
            polls += count
    texts = _texts(captured, AvailabilityCount._meta.db_table)
    # 357 cells at most per flush: runs of 256, 64, 32 ... 1 rows, nine texts; one per count would be 119.
    assert 1 < len(texts) <= UPSERT_BATCH.bit_length()
    live = AvailabilityCount.objects.using(alias).filter(tier="1m")
    assert sum(live.values_list("count", flat=True)) == polls
