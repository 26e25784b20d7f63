"""A silence's reason becomes unique within its team: silences already sharing one are renamed, none is lost;
a maintenance window's silences keep their window's shared reason."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.migration_state import models_at

BEFORE = [("alerts", "0008_one_alert_rule_name_per_team")]
AFTER = [("alerts", "0009_one_silence_reason_per_team")]


@pytest.mark.django_db(transaction=True)
def test_it_renames_the_later_silences_sharing_a_reason_in_their_team_then_holds_reasons_unique(
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        Team = old.get_model("accounts", "Team")
        blue, green = Team.objects.create(slug="blue", name="Blue"), Team.objects.create(slug="green", name="Green")
        Silence = old.get_model("alerts", "Silence")
        end = timezone.now() + timedelta(hours=1)
        long = "x" * 300
        made = [
            Silence.objects.create(team=team, tag="web", reason=reason, ends_at=end)
            for team, reason in (
                (blue, "deploy"),
                (blue, "deploy (2)"),  # already taken: the next "deploy" becomes "deploy (3)"
                (blue, "deploy"),
                (green, "deploy"),  # another team's: not a twin
                (blue, long),
                (blue, long),
            )
        ]
        # A maintenance window's silences share its reason (one per source): they are not twins.
        window_silences = [
            Silence.objects.create(team=blue, tag=tag, reason="Status page maintenance: DB", ends_at=end)
            for tag in ("a", "b")
        ]
        Page = old.get_model("statuspages", "StatusPage")
        page = Page.objects.create(team=blue, slug="status", title="Status")
        window = old.get_model("statuspages", "MaintenanceWindow").objects.create(
            page=page, title="DB", starts_at=timezone.now(), ends_at=end
        )
        window.silences.add(*window_silences)

        with caplog.at_level(logging.WARNING, logger="devops_insights.migrations"):
            executor = MigrationExecutor(connection)
            executor.migrate(AFTER)
        new = models_at(AFTER)
        Silence = new.get_model("alerts", "Silence")
        reasons = dict(Silence.objects.values_list("pk", "reason"))
        assert [reasons[silence.pk] for silence in made] == [
            "deploy",
            "deploy (2)",
            "deploy (3)",
            "deploy",
            long,
            "x" * 296 + " (2)",
        ]
        assert {reasons[silence.pk] for silence in window_silences} == {"Status page maintenance: DB"}
        assert set(Silence.objects.filter(kept_by_window=True).values_list("pk", flat=True)) == {
            silence.pk for silence in window_silences
        }
        assert f"silence {made[2].pk} renamed 'deploy' -> 'deploy (3)'" in caplog.text
        with pytest.raises(IntegrityError), transaction.atomic():
            Silence.objects.create(team_id=blue.pk, tag="web", reason="deploy", ends_at=end)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
