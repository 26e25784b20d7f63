"""``alert_rules:``: our alert rules, by name within their team. The target is ``source:`` (a slug),
``tag:``, or neither (all the team's sources); a burn-rate rule names its ``objective`` (by name, in the
rule's team: ``objectives:``). Which condition fields a kind takes is alerting's rule
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
    LIST,
    NUMBER,
    SOURCE,
    STRING,
    STRINGS,
    TEAM,
    TEAM_FIELD,
    Built,
    Field,
    Key,
    Ref,
    Section,
    from_model,
    link,
    relink,
)
from provisioning.sections.objectives import Objectives

OBJECTIVES = Objectives()

CHANNEL = Ref("channels", "name", "channel")


class AlertRules(Section):
    name = "alert_rules"
    title = "Alert rules"
    model = AlertRule
    key_fields = ("team", "name")
    fields: ClassVar[tuple[Field, ...]] = (
        TEAM_FIELD,
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
        Field(
            "objective",
            STRING,
            None,
            "For a burn_rate rule: the name of the team's objective whose error budget is watched.",
            nullable=True,
            model_field="objective",
        ),
        from_model(AlertRule, "burn_conditions", "burn_conditions", LIST),
        from_model(AlertRule, "anomaly_mode", "anomaly_mode", STRING, enum=("", *AlertRule.AnomalyMode.values)),
        from_model(AlertRule, "sensitivity", "sensitivity", NUMBER, default=None, nullable=True),
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

    plain = (
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
        "burn_conditions",
        "anomaly_mode",
        "sensitivity",
        "severity",
        "fire_after",
        "for_seconds",
        "resolve_after",
        "renotify_interval_seconds",
    )
    refs: ClassVar[dict[str, Ref]] = {"team": TEAM, "source": SOURCE}
    lists: ClassVar[dict[str, Ref]] = {"channels": CHANNEL}

    def load(self, ctx: Context) -> dict[Key, Any]:
        rules = (
            AlertRule.objects.select_related("team", "source", "objective").prefetch_related("channels").order_by("pk")
        )
        return self.keyed(ctx, rules, lambda rule: (rule.team.slug, rule.name))

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        values = super().actual(obj, ctx)
        values["objective"] = obj.objective.name if obj.objective_id else None
        return values

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems = super().check(item, ctx)
        kind = item.get("kind", AlertRule.Kind.METRIC)
        for key in CONDITION_FIELDS:
            if item.get(key) not in (None, "", []) and key not in KIND_FIELDS.get(kind, CONDITION_FIELDS):
                problems.append(
                    (key, f"not used by a {kind} rule (it takes: {', '.join(KIND_FIELDS[kind]) or 'nothing'})")
                )
        if item.get("source") and item.get("tag"):
            problems.append(("tag", "a rule watches one source or one tag, not both"))
        objective = item.get("objective")
        team = item.get("team", DEFAULT_TEAM_SLUG)
        if objective and not ctx.will_exist("objectives", (team, objective)):
            problems.append(
                ("objective", f"no objective {objective!r} in the team {team!r} (neither in the files nor stored)")
            )
        elif (
            objective
            and kind == AlertRule.Kind.BURN_RATE
            and item.get("enabled", self.field("enabled").default)
            # Every rule the files describe, changed or not: it watches the objective's sources, which the same
            # files may re-tag, move or prune.
            and (uncovered := OBJECTIVES.uncovered(ctx, str(team), str(objective))) is not None
        ):
            problems.append(("objective", uncovered))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        built = super().build(obj, values, ctx)
        rule = built.instance
        rule.scope = (
            AlertRule.Scope.SOURCE
            if values["source"]
            else AlertRule.Scope.TAG
            if values["tag"]
            else AlertRule.Scope.ALL
        )
        objective = ctx.lookup("objectives", (values["team"], values["objective"])) if values["objective"] else None
        link(rule, "objective", objective)
        built.links["objective"] = objective
        return built

    def clean_exclude(self) -> list[str]:
        return [*super().clean_exclude(), "objective"]

    def create(self, built: list[Built], ctx: Context) -> None:
        for item in built:
            relink(item)
        AlertRule.objects.bulk_create([item.instance for item in built])
        through = AlertRule.channels.through
        through.objects.bulk_create(
            [
                through(alertrule_id=item.instance.pk, notificationchannel_id=channel.pk)
                for item in built
                for channel in item.many.get("channels", [])
            ]
        )
