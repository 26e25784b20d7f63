"""The pooled checkout (devops_insights/postgresql/base.py): psycopg's check only for a connection not lent lately,
and a connection that died while idle in the pool is still never lent."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from devops_insights.postgresql.base import RecentlyLentCheck


class CountedCheck:
    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, connection: Any) -> None:
        self.runs += 1
        ConnectionPool.check_connection(connection)


def _pool(url: str, after: float) -> tuple[ConnectionPool, CountedCheck]:
    counted = CountedCheck()
    pool = ConnectionPool(url, min_size=1, max_size=1, kwargs={"autocommit": True}, open=True)
    pool._check = RecentlyLentCheck(counted, after)  # as DatabaseWrapper.pool installs it
    pool.wait()
    return pool, counted


def test_it_checks_a_connection_only_when_it_was_not_lent_lately(postgres_url: str) -> None:
    pool, counted = _pool(postgres_url, after=0.5)
    try:
        for _ in range(5):
            with pool.connection() as connection:
                connection.execute("SELECT 1")
        assert counted.runs == 1  # the first loan only
        time.sleep(0.6)
        with pool.connection() as connection:
            connection.execute("SELECT 1")
        assert counted.runs == 2
    finally:
        pool.close()


def test_it_never_lends_a_connection_that_died_in_the_pool(postgres_url: str) -> None:
    pool, counted = _pool(postgres_url, after=0.2)
    try:
        with pool.connection() as connection:
            pid = connection.info.backend_pid
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        time.sleep(0.3)  # longer than `after`: a server restart takes longer than the setting
        with pool.connection() as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
            assert connection.info.backend_pid != pid
        assert counted.runs >= 2
    finally:
        pool.close()


def test_it_checks_every_loan_with_zero(postgres_url: str) -> None:
    pool, counted = _pool(postgres_url, after=0.0)
    try:
        for _ in range(3):
            with pool.connection() as connection:
                connection.execute("SELECT 1")
        assert counted.runs == 3
    finally:
        pool.close()


def test_it_is_what_the_backend_lends_with(postgres_url: str, django_db_blocker: Any) -> None:
    from django.db import connections

    from devops_insights.postgresql.base import DatabaseWrapper

    settings_dict = {
        **connections.settings["contract_postgres" if "contract_postgres" in connections.settings else "default"],
        "ENGINE": "devops_insights.postgresql",
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
    }
    settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": 2}}
    wrapper = DatabaseWrapper(settings_dict, alias="pool_checkout_test")  # its own pool, on the server's database
    with django_db_blocker.unblock():
        _lend_three_times(wrapper)


def _lend_three_times(wrapper: Any) -> None:
    try:
        params = []
        for _ in range(3):
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
            params.append(wrapper.get_connection_params())
            wrapper.close()  # back to the pool, as after every poll
        assert isinstance(wrapper.pool._check, RecentlyLentCheck)
        # Built once per pool: no new cursor class per checkout.
        assert params[0]["cursor_factory"] is params[2]["cursor_factory"]
    finally:
        wrapper.close_pool()
