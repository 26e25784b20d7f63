"""Fixtures shared by the devops_insights tests (a real pool timeout); the services, the simulator, `allow_loopback`
and the fresh cache come from tests/conftest.py; sources, users, clients and tokens from tests/factories.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import OperationalError
from psycopg_pool import ConnectionPool, PoolTimeout


@pytest.fixture
def pool_timeout(postgres_url: str) -> Iterator[OperationalError]:
    """A real psycopg pool of one connection, lent out: the next ``getconn`` times out, raised as Django raises it."""
    pool = ConnectionPool(postgres_url, min_size=0, max_size=1, timeout=0.2, open=True)
    held = pool.getconn()
    try:
        pool.getconn()
    except PoolTimeout as error:
        wrapped = OperationalError(str(error))
        wrapped.__cause__ = error  # as Django's wrap_database_errors raises it
        yield wrapped
    else:
        pytest.fail("the pool lent a second connection")
    finally:
        pool.putconn(held)
        pool.close()
