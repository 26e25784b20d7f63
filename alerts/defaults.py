"""Safe defaults: a new source is watched for being unreachable, the first channel is the default one,
and a rule that would notify no one says so.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import default_team_id
from alerts.models import AlertRule, NotificationChannel, Severity
from devops_insights.naming import free_name
from pollers.models import Source

UNREACHABLE_FAILURES = 3  # consecutive failed polls: one blip or one retry-exhausted poll is not an outage


def add_unreachable_rule(source: Source) -> AlertRule | None:
    """The "source unreachable" rule for a new source, unless ``ALERTS_DEFAULT_UNREACHABLE_RULE`` is off.

    Called for each source announced by ``pollers.signals.source_added`` (``alerts.receivers.on_source_added``).
    """
    if not settings.ALERTS_DEFAULT_UNREACHABLE_RULE:
        return None
    return AlertRule.objects.create(
        team_id=source.team_id,
        name=free_rule_name(source.team_id, f"{source.slug} unreachable"),
        description="Added with the source (ALERTS_DEFAULT_UNREACHABLE_RULE): its polls keep failing.",
        scope=AlertRule.Scope.SOURCE,
        source=source,
        kind=AlertRule.Kind.POLL_FAILURES,
        count=UNREACHABLE_FAILURES,
        severity=Severity.CRITICAL,
        fire_after=1,
        resolve_after=1,
    )


def free_rule_name(team_id: int, name: str) -> str:
    """``name``, else ``name (2)``, ``name (3)``, ...: the first no rule of the team has (a rule's name is
    unique in its team). A rule of the name may be left from before: a source renamed keeps its rule."""
    return free_name(AlertRule.objects.filter(team_id=team_id), "name", name)


def first_becomes_default(channel: NotificationChannel) -> None:
    """Before saving a new channel: a team's first becomes its default, so its rules without channels reach it."""
    # An unsaved channel without a team goes to the default team when saved.
    team_id = channel.team_id or default_team_id()
    if channel.pk is None and not NotificationChannel.objects.filter(team_id=team_id).exists():
        channel.is_default = True


def enabled_defaults(team_id: int) -> models.QuerySet[NotificationChannel]:
    """The team's enabled default channels: where a rule that selects no enabled channel sends (alerts.engine)."""
    return NotificationChannel.objects.enabled().filter(is_default=True, team_id=team_id)


def notifies_no_one(rule: AlertRule) -> str:
    """Why ``rule`` (saved, with its channels) would notify no one, or "" when someone would hear it."""
    # As the engine routes: the rule's enabled channels, else every enabled default channel.
    if rule.channels.filter(enabled=True).exists():
        return ""
    if enabled_defaults(rule.team_id).exists():
        return ""
    if rule.channels.exists():
        return "every channel it selects is disabled and there is no enabled default channel, so it notifies no one"
    return "it selects no channel and there is no enabled default channel, so it notifies no one"
