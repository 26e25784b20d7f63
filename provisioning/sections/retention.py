"""``retention:``: how long metric data is kept, for one source (``source: slug``) or, without ``source``,
the global default every other source follows. A per-source policy belongs to its source's team; the
global one to no team (only a superuser may change it through the API)."""

from __future__ import annotations

from typing import Any, ClassVar

from metrics.lifecycle.models import RetentionPolicy
from provisioning.context import Context
from provisioning.sections.base import BOOLEAN, INTEGER, SOURCE, STRING, Field, Key, Ref, Section, from_model


class Retention(Section):
    name = "retention"
    title = "Retention policies of metric data"
    model = RetentionPolicy
    key_fields = ("source",)
    teamed = False
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "source",
            STRING,
            None,
            "Slug of the source (absent: the global default).",
            nullable=True,
            model_field="source",
        ),
        from_model(RetentionPolicy, "raw_days", "raw_days", INTEGER),
        from_model(RetentionPolicy, "minute_days", "minute_days", INTEGER),
        from_model(RetentionPolicy, "hour_days", "hour_days", INTEGER),
        from_model(RetentionPolicy, "day_days", "day_days", INTEGER, default=None, nullable=True),
        from_model(RetentionPolicy, "archive_raw", "archive_raw", BOOLEAN),
    )
    plain = ("raw_days", "minute_days", "hour_days", "day_days", "archive_raw")
    refs: ClassVar[dict[str, Ref]] = {"source": SOURCE}

    def describe(self, key: Key) -> str:
        return key[0] or "(global default)"

    def item_is_global(self, item: dict[str, Any]) -> bool:
        return not item.get("source")

    def load(self, ctx: Context) -> dict[Key, Any]:
        policies = RetentionPolicy.objects.select_related("source__team")
        return self.keyed(ctx, policies, lambda p: (p.source.slug if p.source_id else "",))

    def team_of(self, obj: Any) -> str | None:
        return obj.source.team.slug if obj.source_id else None
