"""``teams:``: the teams that own everything else, by slug. Never pruned: a team also holds members and
tokens the files do not describe, so deleting one stays a deliberate act in the admin."""

from __future__ import annotations

from typing import Any, ClassVar

from accounts.models import Team
from provisioning.context import Context
from provisioning.sections.base import STRING, Field, Key, Section, from_model


class Teams(Section):
    name = "teams"
    title = "Teams (owners of every other object)"
    model = Team
    key_fields = ("slug",)
    teamed = False
    prunable = False
    fields: ClassVar[tuple[Field, ...]] = (
        from_model(Team, "slug", "slug", STRING, description="The team's slug: its natural key."),
        from_model(Team, "name", "name", STRING, description="Display name, unique."),
    )
    plain = ("slug", "name")

    def item_is_global(self, item: dict[str, Any]) -> bool:
        return False

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        for (slug,), team in ctx.stored["teams"].items():
            if team.name == item.get("name") and slug != item.get("slug"):
                return [("name", f"already the name of the team {slug!r}")]
        return []

    def load(self, ctx: Context) -> dict[Key, Any]:
        return self.keyed(ctx, Team.objects.all(), lambda team: (team.slug,))

    def team_of(self, obj: Any) -> str | None:
        return str(obj.slug)
