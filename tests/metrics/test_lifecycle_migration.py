"""RetentionPolicy moved from observability to metrics (metrics.lifecycle): existing policies survive.

The database is taken back to the schema before the move (observability 0002, metrics 0002), policies
are written through that historical model, and the database is migrated forward again; the rows must
then be read through the new model, unchanged. Runs on whichever database the suite uses (SQLite by
default, PostgreSQL with DATABASE_URL).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from metrics.lifecycle.models import Retention, RetentionPolicy

pytestmark = pytest.mark.django_db(transaction=True)

# Sources as they were then too: before teams, when a source needed no team.
BEFORE_THE_MOVE = [
    ("observability", "0002_default_retention_policy"),
    ("metrics", "0002_metric_rollups"),
    ("pollers", "0006_source_pinned_metrics"),
]
# The table keeps its name: only the model's state moves, so the previous release keeps working.
TABLE = "observability_retentionpolicy"


def migrate(targets: list[tuple[str, str | None]]) -> Any:
    """Migrate the test database to ``targets``; the apps (historical models) of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()  # what was just applied or unapplied
    # An app migrated to zero (None) has no state left to render.
    return executor.loader.project_state([target for target in targets if target[1] is not None]).apps


def latest() -> list[tuple[str, str | None]]:
    return list(MigrationExecutor(connection).loader.graph.leaf_nodes())


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.fixture
def back_at_the_latest_schema() -> Iterator[None]:
    # Whatever happens, the tests after this one need the current schema.
    yield
    migrate(latest())


def write_old_policies(old_apps: Any) -> dict[str, int]:
    """A global default and two per-source policies through the pre-move model; their ids by scope."""
    Source = old_apps.get_model("pollers", "Source")
    Policy = old_apps.get_model("observability", "RetentionPolicy")
    assert Policy._meta.db_table == TABLE
    us = Source.objects.create(slug="us-east", name="US East", url="http://127.0.0.1:9/us-east")
    eu = Source.objects.create(slug="eu-west", name="EU West", url="http://127.0.0.1:9/eu-west")
    Policy.objects.filter(source__isnull=True).delete()  # the migration's default, if a flush left it
    default = Policy.objects.create(source=None, raw_days=3, minute_days=20, hour_days=200, day_days=None)
    east = Policy.objects.create(source=us, raw_days=1, minute_days=2, hour_days=3, day_days=4, archive_raw=True)
    west = Policy.objects.create(source=eu, raw_days=14, minute_days=30, hour_days=365, day_days=3650)
    return {"default": default.pk, "us-east": east.pk, "eu-west": west.pk}


def test_it_keeps_global_and_per_source_policies_through_the_move(back_at_the_latest_schema: None) -> None:
    old_apps = migrate(BEFORE_THE_MOVE)
    with pytest.raises(LookupError):
        old_apps.get_model("metrics", "RetentionPolicy")  # really the schema before the move
    ids = write_old_policies(old_apps)

    new_apps = migrate(latest())

    with pytest.raises(LookupError):
        new_apps.get_model("observability", "RetentionPolicy")
    assert new_apps.get_model("metrics", "RetentionPolicy")._meta.db_table == TABLE
    assert RetentionPolicy._meta.app_label == "metrics"
    assert RetentionPolicy._meta.db_table == TABLE
    rows = {p.source.slug if p.source else "default": p for p in RetentionPolicy.objects.select_related("source")}
    assert set(rows) == {"default", "us-east", "eu-west"}
    assert {scope: p.pk for scope, p in rows.items()} == ids  # the same rows, not copies
    assert rows["default"].as_retention() == Retention(3, 20, 200, None, False)
    assert RetentionPolicy.objects.effective("us-east") == Retention(1, 2, 3, 4, True)
    assert RetentionPolicy.objects.effective("eu-west") == Retention(14, 30, 365, 3650, False)
    assert RetentionPolicy.objects.effective("not-configured") == Retention(3, 20, 200, None, False)
    # The per-source policy still follows its source through the moved foreign key.
    rows["eu-west"].source.delete()
    assert not RetentionPolicy.objects.filter(pk=ids["eu-west"]).exists()
    # And the one-policy-per-scope constraint came along.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        RetentionPolicy.objects.create(source=None)


def test_it_moves_back_with_the_rows_when_the_migration_is_reversed(back_at_the_latest_schema: None) -> None:
    ids = write_old_policies(migrate(BEFORE_THE_MOVE))
    migrate(latest())
    old_apps = migrate(BEFORE_THE_MOVE)
    Policy = old_apps.get_model("observability", "RetentionPolicy")
    assert set(Policy.objects.values_list("pk", flat=True)) == set(ids.values())
    assert Policy.objects.get(pk=ids["us-east"]).archive_raw is True


def test_it_builds_a_fresh_database_with_the_global_default(back_at_the_latest_schema: None) -> None:
    migrate([("observability", None), ("metrics", None)])  # nothing of either app left
    assert TABLE not in tables()
    migrate(latest())
    assert TABLE in tables()
    default = RetentionPolicy.objects.global_default()
    assert default is not None
    assert default.as_retention() == Retention()  # the documented defaults, created by the migrations
