"""A rule's name becomes unique within its team: rules already sharing one are renamed, none is lost."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.migration_state import models_at

BEFORE = [("alerts", "0007_alertrule_objective_alertrule_sensitivity_and_more")]
AFTER = [("alerts", "0008_one_alert_rule_name_per_team")]


@pytest.mark.django_db(transaction=True)
def test_it_renames_the_later_rules_sharing_a_name_in_their_team_then_holds_names_unique() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        Team = old.get_model("accounts", "Team")
        blue, green = Team.objects.create(slug="blue", name="Blue"), Team.objects.create(slug="green", name="Green")
        Rule = old.get_model("alerts", "AlertRule")
        long = "x" * 120
        made = [
            Rule.objects.create(team=team, name=name, kind="metric", metric="cpu_load")
            for team, name in (
                (blue, "cpu"),
                (blue, "cpu (2)"),  # already taken: the next "cpu" becomes "cpu (3)"
                (blue, "cpu"),
                (green, "cpu"),  # another team's: not a twin
                (blue, "cpu"),
                (blue, long),
                (blue, long),
            )
        ]

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = models_at(AFTER)
        Rule = new.get_model("alerts", "AlertRule")
        names = dict(Rule.objects.values_list("pk", "name"))
        assert [names[rule.pk] for rule in made] == [
            "cpu",
            "cpu (2)",
            "cpu (3)",
            "cpu",
            "cpu (4)",
            long,
            "x" * 116 + " (2)",
        ]
        with pytest.raises(IntegrityError), transaction.atomic():
            Rule.objects.create(team_id=blue.pk, name="cpu", kind="metric", metric="cpu_load")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
