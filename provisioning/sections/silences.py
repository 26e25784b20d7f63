"""``silences:``: maintenance windows during which alerts notify nobody, by reason within their team."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from accounts.models import DEFAULT_TEAM_SLUG
from alerts.models import Silence
from provisioning.context import Context
from provisioning.sections.base import DATETIME, STRING, Built, Field, Key, Section, from_model, link


def _time(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.astimezone(UTC)


def written_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Silences(Section):
    name = "silences"
    title = "Silences (maintenance windows for alerts)"
    key_fields = ("team", "reason")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("team", STRING, DEFAULT_TEAM_SLUG, "Slug of the owning team.", model_field="team"),
        from_model(Silence, "reason", "reason", STRING, description="Unique within the team: the natural key."),
        Field(
            "source", STRING, None, "Slug of the source silenced (or give a tag).", nullable=True, model_field="source"
        ),
        from_model(Silence, "tag", "tag", STRING, description="Silence the sources with this tag."),
        Field("starts_at", DATETIME, description="ISO 8601 with a time zone.", model_field="starts_at"),
        Field("ends_at", DATETIME, description="ISO 8601 with a time zone.", model_field="ends_at"),
    )

    def load(self, ctx: Context) -> dict[Key, Any]:
        found: dict[Key, Any] = {}
        for silence in Silence.objects.select_related("team", "source").order_by("pk"):
            found.setdefault((silence.team.slug, silence.reason), silence)
        return found

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {
            "team": obj.team.slug,
            "reason": obj.reason,
            "source": obj.source.slug if obj.source_id else None,
            "tag": obj.tag,
            "starts_at": obj.starts_at.astimezone(UTC),
            "ends_at": obj.ends_at.astimezone(UTC),
        }

    def exported(self, obj: Any, ctx: Context) -> dict[str, Any]:
        out = super().exported(obj, ctx)
        out["starts_at"], out["ends_at"] = written_time(out["starts_at"]), written_time(out["ends_at"])
        return out

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        values = super().desired(item, resolved)
        values["starts_at"], values["ends_at"] = _time(values["starts_at"]), _time(values["ends_at"])
        return values

    def redact_value(self, key: str, value: Any) -> Any:
        return written_time(value) if isinstance(value, datetime) else value

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems: list[tuple[Any, str]] = []
        team = item.get("team", DEFAULT_TEAM_SLUG)
        if not ctx.will_exist("teams", (team,)):
            problems.append(("team", f"no team {team!r} (neither in the files nor stored)"))
        if item.get("source") and not ctx.will_exist("sources", (item["source"],)):
            problems.append(("source", f"no source {item['source']!r} (neither in the files nor stored)"))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        silence = obj or Silence()
        silence.reason, silence.tag = values["reason"], values["tag"]
        silence.starts_at, silence.ends_at = values["starts_at"], values["ends_at"]
        source = ctx.lookup("sources", (values["source"],)) if values["source"] else None
        link(silence, "team", ctx.lookup("teams", (values["team"],)))
        link(silence, "source", source)
        return Built(silence, links={"team": silence.team, "source": source})

    def clean_exclude(self) -> list[str]:
        return ["team", "source", "created_by"]
