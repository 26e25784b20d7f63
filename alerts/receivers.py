"""Signal receivers: alerting hooks into polling through ``poll_completed``, and gives a source a person or a tool
added its safe defaults through ``source_added``, with no poller code."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from alerts import rule_cache
from alerts.defaults import add_unreachable_rule
from alerts.engine import evaluate_poll, refresh_alert_states
from alerts.models import AlertRule, RuleState
from alerts.source_moves import follow_moved_source
from pollers.models import Source

log = logging.getLogger("alerts")


def on_poll_completed(sender: Any, source: Any = None, outcome: Any = None, **kwargs: Any) -> None:
    """Evaluate the poll's source against its alert rules. Never raises into the poller."""
    if not settings.ALERTS_ENABLED or source is None or outcome is None:
        return
    try:
        evaluate_poll(source, outcome)
    except Exception:
        log.exception("alert evaluation failed for source %s", getattr(source, "slug", "?"))


def on_source_added(sender: Any, source: Source, **kwargs: Any) -> None:
    """A source added from the dashboard, the API or ``seed_demo`` is watched for being unreachable.

    Runs in the transaction that inserts the source and lets an exception through (``source_added``'s rules):
    a source whose rule cannot be written is not stored either.
    """
    add_unreachable_rule(source)


def drop_stale_states(states: QuerySet[RuleState]) -> list[RuleState]:
    """Delete those of ``states`` whose rule is disabled or no longer applies to their source; returns every
    state it read (a caller may need them all: the rule's save recomputes all the sources it touched).

    The one home of "this state no longer counts". The engine evaluates only the rules that apply to a
    source, so a state left behind by a change of the rule, of the source (its tags, its team) or of a
    burn-rate rule's objective (its sources, its tag) would never be evaluated again: a firing alert would
    stay on the source's level, the alerts page and its card, and never resolve. The sources' levels are
    recomputed once the change commits.
    """
    rows = list(states.select_related("rule", "rule__objective", "source"))
    stale = [s for s in rows if not s.rule.enabled or not s.rule.applies_to(s.source)]
    if stale:
        RuleState.objects.filter(pk__in=[s.pk for s in stale]).delete()
        affected = {s.source_id for s in stale}
        transaction.on_commit(lambda: refresh_alert_states(affected))
    return rows


def on_rule_saved(sender: Any, instance: AlertRule, **kwargs: Any) -> None:
    """A disabled rule, or one that no longer targets a source, stops counting for that source."""
    touched = {state.source_id for state in drop_stale_states(RuleState.objects.filter(rule=instance))}
    if touched:
        # Severity may have changed too: recompute every source this rule touched.
        transaction.on_commit(lambda: refresh_alert_states(touched))


# A source's save with these fields (or a full save) may change which rules apply to it.
_TARGETING_FIELDS = frozenset({"tags", "team", "team_id"})


def on_source_saved(
    sender: Any, instance: Any, created: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """A source moved to another team takes the rules that watch it alone along, and the burn-rate rules of
    another team stop naming it (``alerts.source_moves``); a source whose tags or team changed stops counting
    for the rules that no longer target it."""
    if created or (update_fields is not None and not _TARGETING_FIELDS & set(update_fields)):
        return
    follow_moved_source(AlertRule, instance.pk, instance.team_id)
    drop_stale_states(RuleState.objects.filter(source_id=instance.pk))


def on_objective_changed(sender: Any, instance: Any = None, action: str | None = None, **kwargs: Any) -> None:
    """An objective's sources or tag changed: its burn-rate rules stop counting for sources it left."""
    from objectives.models import Objective

    if action is not None and not action.startswith("post_"):
        return  # m2m_changed: decide once the rows changed
    if isinstance(instance, Objective):
        drop_stale_states(RuleState.objects.filter(rule__objective_id=instance.pk))
    elif instance is not None and instance.pk is not None:  # a source's objectives changed from its side
        drop_stale_states(RuleState.objects.filter(source_id=instance.pk, rule__objective__isnull=False))


def on_rule_deleting(sender: Any, instance: AlertRule, **kwargs: Any) -> None:
    affected = set(RuleState.objects.filter(rule=instance).values_list("source_id", flat=True))
    if affected:
        transaction.on_commit(lambda: refresh_alert_states(affected))


def on_rules_changed(sender: Any, **kwargs: Any) -> None:
    """A rule or silence was saved or deleted: every process reloads its rule snapshot.

    Bumped now (this process, and pollers that read before the commit) and again after the commit, so a
    poller that reloaded between the two cannot keep the pre-commit rules.
    """
    rule_cache.bump()
    transaction.on_commit(rule_cache.bump)
