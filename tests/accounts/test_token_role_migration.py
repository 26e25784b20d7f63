"""accounts 0004: a token's read/write scope becomes a role (read: viewer, write: admin), data kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0003_teams")]
AFTER = [("accounts", "0004_token_role")]


def models_at(nodes: list[tuple[str, str]]) -> Any:
    loader = MigrationExecutor(connection).loader
    others = [node for node in loader.graph.leaf_nodes() if node[0] != "accounts"]
    return loader.project_state([*nodes, *others]).apps


@pytest.mark.django_db(transaction=True)
def test_it_turns_scopes_into_roles() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        user = old.get_model("auth", "User").objects.create(username="rita")
        # Named, so the field default (today's code, with today's audit trail) is not called on the old schema.
        team = old.get_model("accounts", "Team").objects.create(slug="ops", name="Ops")
        tokens = old.get_model("accounts", "ApiToken").objects
        reader = tokens.create(user=user, team=team, name="r", scope="read", token_hash="r" * 64, prefix="dit_r")
        writer = tokens.create(user=user, team=team, name="w", scope="write", token_hash="w" * 64, prefix="dit_w")

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = models_at(AFTER).get_model("accounts", "ApiToken").objects
        assert new.get(pk=reader.pk).role == "viewer"
        assert new.get(pk=writer.pk).role == "admin"
        assert new.get(pk=writer.pk).token_hash == "w" * 64

        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)  # and back
        back = models_at(BEFORE).get_model("accounts", "ApiToken").objects
        assert dict(back.values_list("name", "scope")) == {"r": "read", "w": "write"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
