"""Two test runs at once on one PostgreSQL server keep apart: Django drops a test database of the same name that
already exists, so a shared name let one run drop the other's database mid-run."""

from __future__ import annotations

import os

import pytest

from tests.conftest import sql_alias


@pytest.mark.skipif(
    sql_alias("postgres") == "default",
    reason="the default database is PostgreSQL: its test database is named after DATABASE_URL's, not per run",
)
@pytest.mark.django_db(databases=["contract_postgres"])
def test_it_gives_the_run_a_contract_database_of_its_own(postgres_url: str) -> None:
    from django.db import connections

    with connections["contract_postgres"].cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()
    assert name.startswith("test_")
    assert name.endswith(f"_contract_{os.getpid()}")


def test_it_keeps_the_run_in_a_name_postgresql_would_cut() -> None:
    from tests.services import POSTGRES_NAME_BYTES, contract_database_name

    long = "é" * 40  # two bytes each: cut by bytes, on a character boundary
    name = contract_database_name(long, pid=4242)
    assert len(name.encode()) <= POSTGRES_NAME_BYTES
    assert name.startswith("test_é")
    assert name.endswith("_contract_4242")
    assert contract_database_name(long, pid=4243) != name
    assert contract_database_name("postgres", pid=7) == "test_postgres_contract_7"
