"""What becomes of the alert rules naming a source that is now another team's: the one home of it, for the
receiver that sees a source move (``alerts.receivers.on_source_saved``) and for the migration that mends the
rules left behind before it existed (``0010_rules_follow_their_source``).

Plain functions over the rule model they are given: a migration's historical model works as the current one
does (no current model is imported here). Each change is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from devops_insights.naming import free_name

log = logging.getLogger("alerts")

BURN_RATE = "burn_rate"  # AlertRule.Kind.BURN_RATE, spelled out: a historical model has no enum
ALL_SOURCES = "all"  # AlertRule.Scope.ALL


def follow_moved_source(rules: Any, source_id: int, team_id: int) -> tuple[int, int]:
    """Mend the rules of another team than ``team_id`` that name the source ``source_id`` (now of that team);
    ``rules`` is the ``AlertRule`` model. Returns (rules moved, burn-rate rules whose source was cleared).

    A rule watching the source alone moves into its team: left behind it would never fire again (a rule covers
    its own team's sources only) while its team's pages still named a source that team may no longer see. It
    keeps its condition, timing and states, takes the first name free in the new team, and leaves the old
    team's channels behind: the new team's default channels hear it.

    A burn-rate rule is its objective's, not its source's: it stays in the objective's team and keeps watching
    the objective's other sources (it watches the objective's sources whatever its scope says, and the
    objective no longer covers a source of another team). Only its reference to the source goes, the rule
    becoming one of "all sources" (of its objective): its team's pages stop naming the other team's source,
    and the rule can be saved again (``AlertRule.clean`` refuses another team's source). Nothing it evaluates
    changes, so it is neither disabled nor refused. Only rules stored before ``0011_burn_rate_rules_name_no_source``
    (which 0010 runs over) name one: ``AlertRule.clean`` refuses a burn-rate rule naming a source since.
    """
    named = rules.objects.filter(source_id=source_id).exclude(team_id=team_id)
    moved = 0
    for rule in named.filter(objective__isnull=True).order_by("pk"):
        old_team, old_name = rule.team_id, rule.name
        rule.channels.clear()
        rule.team_id = team_id
        rule.name = free_name(rules.objects.filter(team_id=team_id), "name", rule.name)
        rule.save(update_fields=["team", "name", "updated_at"])  # the current model bumps the rule cache; 0010 itself
        moved += 1
        log.warning(
            "alert rule %s %r moved from team %s to team %s as %r: its source %s is that team's",
            rule.pk, old_name, old_team, team_id, rule.name, source_id,
        )  # fmt: skip
    cleared = 0
    for rule in named.filter(kind=BURN_RATE).order_by("pk"):
        rule.source_id = None
        rule.scope = ALL_SOURCES
        rule.save(update_fields=["scope", "source", "updated_at"])
        cleared += 1
        log.warning(
            "burn-rate rule %s %r of team %s no longer names source %s (now team %s's); it watches its "
            "objective's sources",
            rule.pk, rule.name, rule.team_id, source_id, team_id,
        )  # fmt: skip
    return moved, cleared
