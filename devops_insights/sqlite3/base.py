"""SQLite: django-prometheus's instrumented backend, with its cursor class made once per database.

django-prometheus counts every statement through a subclass of the backend's cursor that it makes with
``ExportingCursorWrapper``, and its SQLite backend makes that class anew for every cursor: a class
definition (tens of microseconds, and an object graph for the garbage collector) on every query of every
request and poll. A changed poll opens several cursors. The class is the same each time (it only closes
over the alias and the vendor), so it is made once per alias here; the counting is django-prometheus's own.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.utils.functional import cached_property
from django_prometheus.db.backends.sqlite3 import base
from django_prometheus.db.common import ExportingCursorWrapper

from devops_insights.db_error_wrapper import DatabaseErrorWrapper


@cache
def _cursor_class(cursor_class: type, alias: str, vendor: str) -> type:
    # One per (backend cursor, alias): a handful per process, never freed, as the backend's own classes.
    return ExportingCursorWrapper(cursor_class, alias, vendor)


class DatabaseWrapper(base.DatabaseWrapper):
    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return DatabaseErrorWrapper(self)  # Django's, without its reference cycle per error

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=_cursor_class(self.CURSOR_CLASS, self.alias, self.vendor))
