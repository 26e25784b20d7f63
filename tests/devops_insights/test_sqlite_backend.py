"""The SQLite backend (devops_insights/sqlite3/base.py): django-prometheus's counting, its cursor class made once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import connections
from django_prometheus.db import execute_total

from devops_insights.sqlite3.base import DatabaseWrapper
from tests.conftest import sql_alias


def _wrapper(tmp_path: Path, alias: str) -> DatabaseWrapper:
    settings_dict = {**connections.settings[sql_alias("sqlite")], "NAME": str(tmp_path / "backend.sqlite3")}
    settings_dict["ENGINE"] = "devops_insights.sqlite3"
    return DatabaseWrapper(settings_dict, alias=alias)


def _count(alias: str) -> float:
    return execute_total.labels(alias, "sqlite")._value.get()  # type: ignore[no-any-return]


def test_it_counts_every_statement_with_one_cursor_class(tmp_path: Path, django_db_blocker: Any) -> None:
    wrapper = _wrapper(tmp_path, "sqlite_backend_test")
    before = _count("sqlite_backend_test")
    with django_db_blocker.unblock():
        try:
            classes = set()
            for _ in range(3):
                with wrapper.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    assert cursor.fetchone() == (1,)
                    classes.add(type(cursor.cursor))
        finally:
            wrapper.close()
    assert _count("sqlite_backend_test") - before == 3  # django-prometheus's counter, as with its own backend
    assert len(classes) == 1  # made once, not per cursor
    assert classes.pop().__qualname__.startswith("ExportingCursorWrapper")


def test_it_makes_a_class_per_alias(tmp_path: Path, django_db_blocker: Any) -> None:
    first, second = _wrapper(tmp_path, "sqlite_backend_a"), _wrapper(tmp_path, "sqlite_backend_b")
    with django_db_blocker.unblock():
        try:
            with first.cursor() as one, second.cursor() as other:
                one.execute("SELECT 1")
                other.execute("SELECT 1")
                assert type(one.cursor) is not type(other.cursor)  # each counts under its own alias
        finally:
            first.close()
            second.close()
    assert _count("sqlite_backend_a") == 1
    assert _count("sqlite_backend_b") == 1
