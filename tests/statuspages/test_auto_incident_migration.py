"""Incidents opened automatically before the constraint one_open_auto_incident_per_component: the migration
marks them with their component, and where a component already had several open it marks one and leaves the
others open and unchanged, so that it applies whatever the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.migration_state import models_at

BEFORE = [("statuspages", "0004_one_component_name_and_maintenance_title_per_page")]
AFTER = [("statuspages", "0005_one_open_auto_incident_per_component")]
START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_it_marks_one_open_automatic_incident_per_component_and_leaves_the_twins_open() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        team = old.get_model("accounts", "Team").objects.create(slug="blue", name="Blue")
        page = old.get_model("statuspages", "StatusPage").objects.create(team=team, slug="acme", title="Acme")
        Component = old.get_model("statuspages", "Component")
        checkout, search = (Component.objects.create(page=page, name=n, badge_key=n) for n in ("Checkout", "Search"))
        source = old.get_model("pollers", "Source").objects.create(
            slug="a", team=team, name="A", url="http://127.0.0.1:9/"
        )
        Event = old.get_model("alerts", "AlertEvent")
        Incident = old.get_model("statuspages", "Incident")

        def incident(component: object, minutes: int, **fields: object) -> object:
            event = Event.objects.create(
                source=source, rule_name="cpu", kind="fired", severity="critical", occurred_at=START
            )
            made = Incident.objects.create(
                page=page,
                title="Problems",
                started_at=START + timedelta(minutes=minutes),
                opened_by_event=event,
                **fields,
            )
            made.components.set([component])
            return made

        resolved = incident(checkout, 0, status="resolved", resolved_at=START + timedelta(minutes=5), is_draft=False)
        published = incident(checkout, 20, is_draft=False)  # the one visitors see: it stays the automatic one
        older_draft = incident(checkout, 10, is_draft=True)  # opened beside it by the defect
        later_draft = incident(checkout, 30, is_draft=True)
        search_draft = incident(search, 40, is_draft=True)
        by_hand = Incident.objects.create(page=page, title="By hand", started_at=START, is_draft=True)
        by_hand.components.set([checkout])

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = models_at(AFTER)
        Incident = new.get_model("statuspages", "Incident")
        rows = {row["pk"]: row for row in Incident.objects.values("pk", "opened_for_id", "status", "is_draft")}
        assert rows[resolved.pk]["opened_for_id"] == checkout.pk
        assert rows[published.pk]["opened_for_id"] == checkout.pk
        assert rows[search_draft.pk]["opened_for_id"] == search.pk
        for twin in (older_draft, later_draft, by_hand):
            assert rows[twin.pk] == {"pk": twin.pk, "opened_for_id": None, "status": "investigating", "is_draft": True}
        with pytest.raises(IntegrityError), transaction.atomic():
            Incident.objects.create(page_id=page.pk, title="Again", started_at=START, opened_for_id=checkout.pk)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
