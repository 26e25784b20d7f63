"""``retention:``: how long metric data is kept, for one source (``source: slug``) or, without ``source``,
the global default every other source follows. A per-source policy belongs to its source's team; the
global one to no team (only a superuser may change it through the API)."""

from __future__ import annotations

from typing import Any, ClassVar

from metrics.lifecycle.models import RetentionPolicy
from provisioning.context import Context
from provisioning.sections.base import BOOLEAN, INTEGER, STRING, Built, Field, Key, Section, from_model, link


class Retention(Section):
    name = "retention"
    title = "Retention policies of metric data"
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

    def describe(self, key: Key) -> str:
        return key[0] or "(global default)"

    def item_is_global(self, item: dict[str, Any]) -> bool:
        return not item.get("source")

    def load(self, ctx: Context) -> dict[Key, Any]:
        policies = RetentionPolicy.objects.select_related("source__team")
        return {(p.source.slug if p.source_id else "",): p for p in policies}

    def team_of(self, obj: Any) -> str | None:
        return obj.source.team.slug if obj.source_id else None

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {
            "source": obj.source.slug if obj.source_id else None,
            "raw_days": obj.raw_days,
            "minute_days": obj.minute_days,
            "hour_days": obj.hour_days,
            "day_days": obj.day_days,
            "archive_raw": obj.archive_raw,
        }

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        if item.get("source") and not ctx.will_exist("sources", (item["source"],)):
            return [("source", f"no source {item['source']!r} (neither in the files nor stored)")]
        return []

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        policy = obj or RetentionPolicy()
        for key in ("raw_days", "minute_days", "hour_days", "day_days", "archive_raw"):
            setattr(policy, key, values[key])
        source = ctx.lookup("sources", (values["source"],)) if values["source"] else None
        link(policy, "source", source)
        return Built(policy, links={"source": source})

    def clean_exclude(self) -> list[str]:
        return ["source"]
