"""PostgreSQL: django-prometheus's instrumented backend, with a pooled checkout that costs less.

Every poll and request borrows a pooled connection and gives it back (docs/operations.md, "Database
connections"), so what Django does per checkout is paid per poll. Two parts of it are not needed:

- Django builds the connection parameters again, and django-prometheus's wrapper makes a new cursor
  class each time (about 30 us and a class for the collector), though a pooled checkout ignores them:
  the pool connects with the parameters it was made with. Here they are built once per pool.
- psycopg's health check is an empty query, a round trip before every checkout. Here a connection is
  checked only when it was last lent more than ``DATABASE_POOL_CHECK_AFTER`` seconds ago (0: every
  time). A server restart takes longer than that, so every connection from before it is checked; a
  connection that still fails mid-use fails its statement like any database error, Django finds it
  unusable when it is given back, and the pool replaces it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.functional import cached_property
from django_prometheus.db.backends.postgresql import base

from devops_insights.db_error_wrapper import DatabaseErrorWrapper


class DatabaseWrapper(base.DatabaseWrapper):
    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return DatabaseErrorWrapper(self)  # Django's, without its reference cycle per error

    @property
    def pool(self) -> Any:
        pool = super().pool
        check = getattr(pool, "_check", None)
        if check is not None and not isinstance(check, RecentlyLentCheck):
            # Django made the pool with psycopg's check before every checkout (CONN_HEALTH_CHECKS).
            pool._check = RecentlyLentCheck(check, float(settings.DATABASE_POOL_CHECK_AFTER))
        return pool

    def get_connection_params(self) -> dict[str, Any]:
        pool = self._connection_pools.get(self.alias)
        if pool is None:  # no pool yet (its own parameters are built here) or none configured
            return dict(super().get_connection_params())
        made = self.__dict__.get("_pooled_params")
        if made is None or made[0] is not pool:
            made = self._pooled_params = (pool, super().get_connection_params())
        return dict(made[1])


class RecentlyLentCheck:
    """psycopg's pool check, run only for a connection not lent within the last ``after`` seconds."""

    def __init__(self, check: Callable[[Any], None], after: float) -> None:
        self.check = check
        self.after = after
        self._lent_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, connection: Any) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._lent_at.get(connection)
        if last is None or now - last >= self.after:
            self.check(connection)  # raises for a dead connection: the pool discards it and lends another
        with self._lock:
            self._lent_at[connection] = now
