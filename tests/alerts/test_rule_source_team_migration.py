"""Rules left naming a source of another team (seed_demo's "unreachable" rules after a configuration apply took
the demo sources over) are mended as a source's move mends them now."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerts.rule_generation import GENERATION_KEY
from devops_insights import cache_generation
from tests.migration_state import models_at

BEFORE = [("alerts", "0009_one_silence_reason_per_team")]
AFTER = [("alerts", "0010_rules_follow_their_source")]


@pytest.mark.django_db(transaction=True)
def test_it_moves_a_rule_left_in_another_team_to_its_sources_and_leaves_the_others() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        Team = old.get_model("accounts", "Team")
        default, example = Team.objects.create(slug="old", name="Old"), Team.objects.create(slug="ex", name="Ex")
        Source = old.get_model("pollers", "Source")
        demo = Source.objects.create(slug="demo", name="Demo", url="http://x.test/demo", team=example)
        home = Source.objects.create(slug="home", name="Home", url="http://x.test/home", team=default)
        Rule = old.get_model("alerts", "AlertRule")
        pager = old.get_model("alerts", "NotificationChannel").objects.create(team=default, name="p", kind="email")
        stray = Rule.objects.create(
            team=default, name="demo unreachable", scope="source", source=demo, kind="poll_failures", count=3
        )
        stray.channels.set([pager])
        Rule.objects.create(team=example, name="demo unreachable", scope="all", kind="circuit_open")  # name taken
        right = Rule.objects.create(
            team=default, name="home unreachable", scope="source", source=home, kind="poll_failures", count=3
        )
        right.channels.set([pager])
        objective = old.get_model("objectives", "Objective").objects.create(team=default, name="slo")
        burn = Rule.objects.create(
            team=default, name="burn", scope="source", source=demo, kind="burn_rate", objective=objective
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        Rule = models_at(AFTER).get_model("alerts", "AlertRule")
        rows = {rule.pk: rule for rule in Rule.objects.all()}
        moved, untouched, kept = rows[stray.pk], rows[right.pk], rows[burn.pk]
        assert (moved.team_id, moved.name, moved.source_id, list(moved.channels.all())) == (
            example.pk,
            "demo unreachable (2)",
            demo.pk,
            [],
        )
        assert (moved.kind, moved.count) == ("poll_failures", 3)
        assert (untouched.team_id, untouched.name, untouched.source_id) == (default.pk, "home unreachable", home.pk)
        assert [channel.pk for channel in untouched.channels.all()] == [pager.pk]
        assert untouched.updated_at == right.updated_at
        assert (kept.team_id, kept.objective_id, kept.scope, kept.source_id) == (default.pk, objective.pk, "all", None)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_it_moves_the_rule_cache_generation_so_running_pollers_reload_the_moved_rules() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        default, example = (old.get_model("accounts", "Team").objects.create(slug=s, name=s) for s in ("old", "ex"))
        demo = old.get_model("pollers", "Source").objects.create(
            slug="demo", name="Demo", url="http://x.test/demo", team=example
        )
        old.get_model("alerts", "AlertRule").objects.create(
            team=default, name="demo unreachable", scope="source", source=demo, kind="poll_failures", count=3
        )
        # What a running poller's snapshot was loaded under (alerts.rule_cache).
        kept = cache_generation.read(GENERATION_KEY)
        assert kept is not None

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        assert cache_generation.read(GENERATION_KEY) not in (None, kept)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
