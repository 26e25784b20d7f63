"""Signal receivers: alerting hooks into polling through ``poll_completed``, with no poller code."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from alerts import rule_cache
from alerts.engine import evaluate_poll, refresh_alert_states
from alerts.models import AlertRule, RuleState

log = logging.getLogger("alerts")


def on_poll_completed(sender: Any, source: Any = None, outcome: Any = None, **kwargs: Any) -> None:
    """Evaluate the poll's source against its alert rules. Never raises into the poller."""
    if not settings.ALERTS_ENABLED or source is None or outcome is None:
        return
    try:
        evaluate_poll(source, outcome)
    except Exception:
        log.exception("alert evaluation failed for source %s", getattr(source, "slug", "?"))


def on_rule_saved(sender: Any, instance: AlertRule, **kwargs: Any) -> None:
    """A disabled rule, or one that no longer targets a source, stops counting for that source."""
    states = RuleState.objects.filter(rule=instance).select_related("source")
    stale = [s for s in states if not instance.enabled or not instance.applies_to(s.source)]
    if not stale and not states:
        return
    affected = {s.source_id for s in states}
    RuleState.objects.filter(pk__in=[s.pk for s in stale]).delete()
    # Severity may have changed too: recompute every source this rule touched.
    transaction.on_commit(lambda: refresh_alert_states(affected))


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
