"""A component's name and a maintenance window's title become unique within their page: those already
sharing one are renamed, none is lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.migration_state import models_at

BEFORE = [("statuspages", "0003_alter_statuspage_custom_host")]
AFTER = [("statuspages", "0004_one_component_name_and_maintenance_title_per_page")]
START, END = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_it_renames_the_later_components_and_windows_sharing_a_name_on_their_page() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        team = old.get_model("accounts", "Team").objects.create(slug="blue", name="Blue")
        Page = old.get_model("statuspages", "StatusPage")
        first, second = (Page.objects.create(team=team, slug=slug, title=slug) for slug in ("one", "two"))
        Component = old.get_model("statuspages", "Component")
        components = [
            Component.objects.create(page=page, name=name, badge_key=f"key-{n}")
            for n, (page, name) in enumerate(((first, "API"), (second, "API"), (first, "API"), (first, "API")))
        ]
        Window = old.get_model("statuspages", "MaintenanceWindow")
        long = "u" * 200
        windows = [
            Window.objects.create(page=first, title=title, starts_at=START, ends_at=END)
            for title in ("Upgrade", "Upgrade", long, long)
        ]
        components[2].maintenance_windows.set([windows[1]])  # a renamed component keeps its windows

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = models_at(AFTER)
        Component = new.get_model("statuspages", "Component")
        Window = new.get_model("statuspages", "MaintenanceWindow")
        names = dict(Component.objects.values_list("pk", "name"))
        assert [names[c.pk] for c in components] == ["API", "API", "API (2)", "API (3)"]
        titles = dict(Window.objects.values_list("pk", "title"))
        assert [titles[w.pk] for w in windows] == ["Upgrade", "Upgrade (2)", long, "u" * 196 + " (2)"]
        assert list(Component.objects.get(pk=components[2].pk).maintenance_windows.values_list("pk", flat=True)) == [
            windows[1].pk
        ]
        with pytest.raises(IntegrityError), transaction.atomic():
            Component.objects.create(page_id=first.pk, name="API", badge_key="key-new")
        with pytest.raises(IntegrityError), transaction.atomic():
            Window.objects.create(page_id=first.pk, title="Upgrade", starts_at=START, ends_at=END)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
