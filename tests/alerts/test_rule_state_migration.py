"""The AlertState -> RuleState rename keeps every rule state, its uniqueness and the source's reverse name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.migration_state import models_at

BEFORE = [("alerts", "0001_initial")]
AFTER = [("alerts", "0002_rename_alertstate_to_rulestate")]


@pytest.fixture
def executor(transactional_db: None) -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    yield executor
    # Leave the schema as every other test expects it.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_it_keeps_the_rule_states_written_before_the_rename(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE)
    old = models_at(BEFORE)
    team = old.get_model("accounts", "Team").objects.create(slug="blue", name="Blue")
    source = old.get_model("pollers", "Source").objects.create(
        slug="us-east", name="US East", url="http://x.test/", team=team
    )
    rule = old.get_model("alerts", "AlertRule").objects.create(name="cpu", kind="metric", metric="cpu_load")
    old.get_model("alerts", "AlertState").objects.create(rule=rule, source=source, status="firing", version=7)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = models_at(AFTER)
    state = new.get_model("alerts", "RuleState").objects.get()
    assert (state.rule_id, state.source_id, state.status, state.version) == (rule.pk, source.pk, "firing", 7)
    assert list(new.get_model("pollers", "Source").objects.get().rule_states.all()) == [state]
    with pytest.raises(IntegrityError), transaction.atomic():
        new.get_model("alerts", "RuleState").objects.create(rule_id=rule.pk, source_id=source.pk)
