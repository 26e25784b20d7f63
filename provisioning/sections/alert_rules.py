"""``alert_rules:``: our alert rules, by name within their team. The target is ``source:`` (a slug),
``tag:``, or neither (all the team's sources); which condition fields a kind takes is alerting's rule
(``alerts.forms.KIND_FIELDS``), the rest is the model's ``clean``."""

from __future__ import annotations

from typing import Any, ClassVar

from accounts.models import DEFAULT_TEAM_SLUG
from alerts.conditions import OPERATORS
from alerts.forms import CONDITION_FIELDS, KIND_FIELDS
from alerts.models import AlertRule
from provisioning.context import Context
from provisioning.sections.base import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    STRINGS,
    Built,
    Field,
    Key,
    Section,
    from_model,
    link,
)


class AlertRules(Section):
    name = "alert_rules"
    title = "Alert rules"
    key_fields = ("team", "name")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("team", STRING, DEFAULT_TEAM_SLUG, "Slug of the owning team.", model_field="team"),
        from_model(AlertRule, "name", "name", STRING, description="Unique within the team: the natural key."),
        from_model(AlertRule, "description", "description", STRING),
        from_model(AlertRule, "enabled", "enabled", BOOLEAN),
        Field(
            "source",
            STRING,
            None,
            "Slug of the one source watched (else tag, else all).",
            nullable=True,
            model_field="source",
        ),
        from_model(AlertRule, "tag", "tag", STRING, description="Watch the team's sources with this tag."),
        from_model(AlertRule, "kind", "kind", STRING),
        from_model(AlertRule, "metric", "metric", STRING),
        from_model(AlertRule, "path", "path", STRING),
        from_model(AlertRule, "operator", "operator", STRING, enum=("", *OPERATORS)),
        from_model(AlertRule, "threshold", "threshold", NUMBER, default=None, nullable=True),
        from_model(AlertRule, "value", "value", STRING),
        from_model(AlertRule, "count", "count", INTEGER, default=None, nullable=True),
        from_model(AlertRule, "duration_seconds", "duration_seconds", INTEGER, default=None, nullable=True),
        from_model(AlertRule, "severity", "severity", STRING),
        from_model(AlertRule, "fire_after", "fire_after", INTEGER),
        from_model(AlertRule, "for_seconds", "for_seconds", INTEGER),
        from_model(AlertRule, "resolve_after", "resolve_after", INTEGER),
        from_model(AlertRule, "renotify_interval_seconds", "renotify_interval_seconds", INTEGER),
        Field(
            "channels",
            STRINGS,
            list,
            "Names of the channels notified (none: the default channels).",
            model_field="channels",
        ),
    )

    def load(self, ctx: Context) -> dict[Key, Any]:
        rules = AlertRule.objects.select_related("team", "source").prefetch_related("channels").order_by("pk")
        found: dict[Key, Any] = {}
        for rule in rules:
            found.setdefault((rule.team.slug, rule.name), rule)
        return found

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {
            "team": obj.team.slug,
            "name": obj.name,
            "description": obj.description,
            "enabled": obj.enabled,
            "source": obj.source.slug if obj.source_id else None,
            "tag": obj.tag,
            "kind": obj.kind,
            "metric": obj.metric,
            "path": obj.path,
            "operator": obj.operator,
            "threshold": obj.threshold,
            "value": obj.value,
            "count": obj.count,
            "duration_seconds": obj.duration_seconds,
            "severity": obj.severity,
            "fire_after": obj.fire_after,
            "for_seconds": obj.for_seconds,
            "resolve_after": obj.resolve_after,
            "renotify_interval_seconds": obj.renotify_interval_seconds,
            "channels": sorted(channel.name for channel in obj.channels.all()),
        }

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        values = super().desired(item, resolved)
        values["channels"] = sorted(set(values["channels"]))
        if values["threshold"] is not None:
            values["threshold"] = float(values["threshold"])
        return values

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems: list[tuple[Any, str]] = []
        team = item.get("team", DEFAULT_TEAM_SLUG)
        if not ctx.will_exist("teams", (team,)):
            problems.append(("team", f"no team {team!r} (neither in the files nor stored)"))
        kind = item.get("kind", AlertRule.Kind.METRIC)
        for key in CONDITION_FIELDS:
            if key in item and item[key] not in (None, "") and key not in KIND_FIELDS.get(kind, CONDITION_FIELDS):
                problems.append(
                    (key, f"not used by a {kind} rule (it takes: {', '.join(KIND_FIELDS[kind]) or 'nothing'})")
                )
        if item.get("source") and item.get("tag"):
            problems.append(("tag", "a rule watches one source or one tag, not both"))
        if item.get("source") and not ctx.will_exist("sources", (item["source"],)):
            problems.append(("source", f"no source {item['source']!r} (neither in the files nor stored)"))
        for index, channel in enumerate(item.get("channels") or []):
            if not ctx.will_exist("channels", (channel,)):
                problems.append((("channels", index), f"no channel {channel!r} (neither in the files nor stored)"))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        rule = obj or AlertRule()
        for key in (
            "name",
            "description",
            "enabled",
            "tag",
            "kind",
            "metric",
            "path",
            "operator",
            "threshold",
            "value",
            "count",
            "duration_seconds",
            "severity",
            "fire_after",
            "for_seconds",
            "resolve_after",
            "renotify_interval_seconds",
        ):
            setattr(rule, key, values[key])
        source = ctx.lookup("sources", (values["source"],)) if values["source"] else None
        rule.scope = (
            AlertRule.Scope.SOURCE
            if values["source"]
            else AlertRule.Scope.TAG
            if values["tag"]
            else AlertRule.Scope.ALL
        )
        link(rule, "team", ctx.lookup("teams", (values["team"],)))
        link(rule, "source", source)
        channels = [ctx.lookup("channels", (name,)) for name in values["channels"]]
        return Built(rule, links={"team": rule.team, "source": source}, many={"channels": channels})

    def clean_exclude(self) -> list[str]:
        return ["team", "source", "channels"]

    def create(self, built: list[Built], ctx: Context) -> None:
        for item in built:
            for name, related in item.links.items():
                setattr(item.instance, name, related)
        AlertRule.objects.bulk_create([item.instance for item in built])
        through = AlertRule.channels.through
        through.objects.bulk_create(
            [
                through(alertrule_id=item.instance.pk, notificationchannel_id=channel.pk)
                for item in built
                for channel in item.many.get("channels", [])
            ]
        )
