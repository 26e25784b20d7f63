"""``objectives:``: service level objectives (docs/objectives.md), by name within their team: the sources
covered (chosen by slug, or a tag), what a good event is, the target and the period. Burn-rate alert
rules name them (``alert_rules[].objective``), so they are written before the rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from objectives.models import OPERATORS, Objective
from provisioning.context import Context
from provisioning.sections.base import (
    INTEGER,
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
)


class Objectives(Section):
    name = "objectives"
    title = "Service level objectives (docs/objectives.md)"
    model = Objective
    key_fields = ("team", "name")
    fields: ClassVar[tuple[Field, ...]] = (
        TEAM_FIELD,
        from_model(Objective, "name", "name", STRING, description="Unique within the team: the natural key."),
        from_model(Objective, "description", "description", STRING),
        Field("sources", STRINGS, list, "Slugs of the sources covered (or name a tag).", model_field="sources"),
        from_model(Objective, "tag", "tag", STRING),
        from_model(Objective, "kind", "kind", STRING),
        from_model(Objective, "metric", "metric", STRING),
        from_model(Objective, "operator", "operator", STRING, enum=("", *OPERATORS)),
        from_model(Objective, "bound", "bound", NUMBER, default=None, nullable=True),
        # A float in the files (the model keeps a Decimal): 99.9 is written as people write it.
        from_model(Objective, "target", "target", NUMBER, default=float(Objective._meta.get_field("target").default)),
        from_model(Objective, "window_days", "window_days", INTEGER),
        from_model(Objective, "window_kind", "window_kind", STRING),
    )
    plain = ("name", "description", "tag", "kind", "metric", "operator", "bound", "window_days", "window_kind")
    refs: ClassVar[dict[str, Ref]] = {"team": TEAM}
    lists: ClassVar[dict[str, Ref]] = {"sources": SOURCE}

    def load(self, ctx: Context) -> dict[Key, Any]:
        objectives = Objective.objects.select_related("team").prefetch_related("sources")
        return self.keyed(ctx, objectives, lambda objective: (objective.team.slug, objective.name))

    def clean(self, built: Built) -> list[tuple[str, str]]:
        # With the model's own rules: only a new or changed objective (an untouched one is left as it is).
        problems = super().clean(built)
        tag = built.instance.tag
        if (coverage := Objective.coverage_problem(bool(built.many.get("sources")), tag)) is not None:
            problems.append(("tag" if tag else "sources", coverage))
        return problems

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {**super().actual(obj, ctx), "target": float(obj.target)}

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        built = super().build(obj, values, ctx)
        built.instance.target = Decimal(str(values["target"]))
        return built
