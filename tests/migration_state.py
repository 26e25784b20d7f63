"""The historical models a migration test needs: some apps at given migrations, every other app as the
database has it then."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def models_at(nodes: list[tuple[str, str]]) -> Any:
    """The models with the named apps at ``nodes`` and every other app at its newest migration that needs
    no later migration of the named apps: migrating the named apps back also unapplies what is built on
    them (say statuspages, on the teams migrations), so those apps are not in the database either."""
    graph = MigrationExecutor(connection).loader.graph
    named = {app for app, _ in nodes}
    reachable = {node for target in nodes for node in graph.forwards_plan(target)}

    def fits(leaf: tuple[str, str]) -> bool:
        return all(node[0] not in named or node in reachable for node in graph.forwards_plan(leaf))

    others = [node for node in graph.leaf_nodes() if node[0] not in named and fits(node)]
    return MigrationExecutor(connection).loader.project_state([*nodes, *others]).apps
