"""Burn-rate rules stored naming a source or tag (configuration as code and the admin took them) stop naming
them: deleting the source then keeps the rule, which watches its objective's sources."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerts.models import AlertRule
from alerts.rule_generation import GENERATION_KEY
from devops_insights import cache_generation
from pollers.models import Source
from tests.migration_state import models_at

BEFORE = [("alerts", "0010_rules_follow_their_source")]


def migrate_to_the_newest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_it_keeps_a_burn_rate_rule_that_named_a_source_when_the_source_is_deleted() -> None:
    try:
        MigrationExecutor(connection).migrate(BEFORE)
        old = models_at(BEFORE)
        team = old.get_model("accounts", "Team").objects.create(slug="blue", name="Blue")
        make_source = old.get_model("pollers", "Source").objects.create
        doomed = make_source(slug="doomed", name="Doomed", url="http://x.test/d", team=team)
        make_source(slug="kept", name="Kept", url="http://x.test/k", team=team)
        objective = old.get_model("objectives", "Objective").objects.create(team=team, name="slo")
        Rule = old.get_model("alerts", "AlertRule")
        burn = Rule.objects.create(
            team=team, name="burn", scope="source", source=doomed, kind="burn_rate", objective=objective
        )
        tagged = Rule.objects.create(team=team, name="tagged", scope="tag", tag="prod", kind="burn_rate")
        watcher = Rule.objects.create(
            team=team, name="doomed down", scope="source", source=doomed, kind="poll_failures", count=3
        )
        kept = cache_generation.read(GENERATION_KEY)  # what a running poller's snapshot was loaded under

        migrate_to_the_newest()
        assert cache_generation.read(GENERATION_KEY) not in (None, kept)
        Source.objects.get(pk=doomed.pk).delete()

        rules = {rule.pk: rule for rule in AlertRule.objects.all()}
        assert watcher.pk not in rules  # a rule of that source alone goes with it
        assert burn.pk in rules, "the burn-rate rule was deleted with a source it never watched"
        assert (rules[burn.pk].scope, rules[burn.pk].source_id, rules[burn.pk].objective_id) == (
            "all",
            None,
            objective.pk,
        )
        assert (rules[tagged.pk].scope, rules[tagged.pk].tag) == ("all", "")
    finally:
        migrate_to_the_newest()
