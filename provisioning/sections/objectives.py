"""``objectives:``: service level objectives (docs/objectives.md), by name within their team: the sources
covered (chosen by slug, or a tag), what a good event is, the target and the period. Burn-rate alert
rules name them (``alert_rules[].objective``), so they are written before the rules."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from objectives.models import OPERATORS, Objective
from provisioning.context import Context, Skip
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
    owning_team,
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
        # A tag alone (both, or neither, is ``clean``'s problem): judged against the sources the files leave, as
        # the admin and the API judge it against the stored ones. Only a new or changed objective, as in ``clean``.
        tag = values["tag"]
        if tag.strip() and not values["sources"] and not will_cover(ctx, values["team"], [], tag):
            built.problems.append(("tag", str(Objective.coverage_problem(False, tag, covered=False))))
        return built

    def uncovered(self, ctx: Context, team: str, name: str) -> str | None:
        """Why the objective ``team``/``name`` (in the files or stored) will cover no source, or None; None too
        when the files describe it wrongly (its own problems are reported) or it will not exist (the reference's)."""
        key = (team, name)
        if key in ctx.declared.get(self.name, set()):
            if key not in ctx.described.get(self.name, {}):
                return None
            item = self.normalized(ctx.document.sections[self.name][ctx.declared_at[self.name][key]])
            chosen, tag = list(item["sources"]), str(item["tag"])
        else:
            stored = ctx.lookup(self.name, key)
            if stored is None:
                return None
            chosen, tag = [source.slug for source in stored.sources.all()], stored.tag
        return None if will_cover(ctx, team, chosen, tag) else Objective.rule_problem(name, tag)


def will_cover(ctx: Context, team: str, chosen: Sequence[str], tag: str) -> bool:
    """Whether an objective of ``team`` naming ``chosen`` sources or ``tag`` will cover a source once the files are
    applied: ``Objective.covered_sources`` (the tag's sources, else the chosen ones, of the team only) over the
    sources the files describe and the stored ones they leave. A source the files describe wrongly counts as
    covered: its own problem is reported, and guessing here would add a second, maybe wrong, one."""
    if tag:
        slugs = sorted({key[0] for key in (*ctx.declared.get("sources", set()), *ctx.stored.get("sources", {}))})
    else:
        slugs = sorted(set(chosen))
    for slug in slugs:
        try:
            source = ctx.lookup("sources", (slug,))
        except Skip:
            return True
        if source is None or owning_team(ctx, SOURCE, slug) != team:
            continue
        if not tag or tag in (source.tags or []):
            return True
    return False
