"""``silences:``: periods during which alerts notify nobody, by reason within their team. The database holds
a reason unique in its team (the constraint ``one_silence_reason_per_team``), as this key needs.

The silences a status page's maintenance window keeps for its components' sources
(``statuspages.maintenance``, ``Silence.kept_by_window``) are not described here, and share their window's
reason: they follow their window (``maintenance_windows:``), so exporting them too would make every window's
silences twice on an empty database."""

from __future__ import annotations

from typing import Any, ClassVar

from alerts.models import Silence
from provisioning.context import Context
from provisioning.sections.base import (
    DATETIME,
    SOURCE,
    STRING,
    TEAM,
    TEAM_FIELD,
    Field,
    Key,
    Ref,
    Section,
    from_model,
)


class Silences(Section):
    name = "silences"
    title = "Silences (periods in which alerts notify nobody)"
    model = Silence
    key_fields = ("team", "reason")
    fields: ClassVar[tuple[Field, ...]] = (
        TEAM_FIELD,
        from_model(
            Silence,
            "reason",
            "reason",
            STRING,
            description="The natural key within the team: two stored silences with one reason cannot be exported.",
        ),
        Field(
            "source", STRING, None, "Slug of the source silenced (or give a tag).", nullable=True, model_field="source"
        ),
        from_model(Silence, "tag", "tag", STRING, description="Silence the sources with this tag."),
        Field("starts_at", DATETIME, description="ISO 8601 with a time zone.", model_field="starts_at"),
        Field("ends_at", DATETIME, description="ISO 8601 with a time zone.", model_field="ends_at"),
    )
    plain = ("reason", "tag", "starts_at", "ends_at")
    refs: ClassVar[dict[str, Ref]] = {"team": TEAM, "source": SOURCE}

    def load(self, ctx: Context) -> dict[Key, Any]:
        own = Silence.objects.filter(kept_by_window=False).select_related("team", "source")
        return self.keyed(ctx, own, lambda silence: (silence.team.slug, silence.reason))

    def clean_exclude(self) -> list[str]:
        return [*super().clean_exclude(), "created_by"]
