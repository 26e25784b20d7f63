"""``flags:``: feature flags (waffle, ``provisioning.models.Flag``), by name: on for everyone, a percentage,
superusers, staff, signed-in users, named users and groups, and the members of named teams."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from provisioning.context import Context
from provisioning.models import Flag
from provisioning.sections.base import BOOLEAN, NUMBER, STRING, STRINGS, Built, Field, Key, Section, from_model


class Flags(Section):
    name = "flags"
    title = "Feature flags (docs/feature-flags.md)"
    key_fields = ("name",)
    teamed = False
    fields: ClassVar[tuple[Field, ...]] = (
        from_model(Flag, "name", "name", STRING, description="The flag's name, as the code asks for it."),
        from_model(Flag, "everyone", "everyone", BOOLEAN, default=None, nullable=True),
        from_model(Flag, "percent", "percent", NUMBER, default=None, nullable=True, minimum=0, maximum=99.9),
        from_model(Flag, "superusers", "superusers", BOOLEAN),
        from_model(Flag, "staff", "staff", BOOLEAN),
        from_model(Flag, "authenticated", "authenticated", BOOLEAN),
        from_model(Flag, "testing", "testing", BOOLEAN),
        from_model(Flag, "rollout", "rollout", BOOLEAN),
        from_model(Flag, "note", "note", STRING),
        Field("users", STRINGS, list, "Usernames the flag is on for.", model_field="users"),
        Field("groups", STRINGS, list, "Names of groups the flag is on for.", model_field="groups"),
        Field("teams", STRINGS, list, "Slugs of teams whose members the flag is on for.", model_field="teams"),
    )

    def load(self, ctx: Context) -> dict[Key, Any]:
        flags = Flag.objects.prefetch_related("users", "groups", "teams")  # type: ignore[misc]
        return {(flag.name,): flag for flag in flags}

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {
            "name": obj.name,
            "everyone": obj.everyone,
            "percent": None if obj.percent is None else float(obj.percent),
            "superusers": obj.superusers,
            "staff": obj.staff,
            "authenticated": obj.authenticated,
            "testing": obj.testing,
            "rollout": obj.rollout,
            "note": obj.note,
            "users": sorted(user.get_username() for user in obj.users.all()),
            "groups": sorted(group.name for group in obj.groups.all()),
            "teams": sorted(team.slug for team in obj.teams.all()),
        }

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        values = super().desired(item, resolved)
        for key in ("users", "groups", "teams"):
            values[key] = sorted(set(values[key]))
        if values["percent"] is not None:
            values["percent"] = float(values["percent"])
        return values

    def _named(self, ctx: Context) -> dict[str, dict[str, Any]]:
        if "flags.named" not in ctx.cache:
            wanted = [item for item in ctx.document.sections.get("flags", []) if isinstance(item, dict)]
            names = {
                key: {str(n) for i in wanted for n in (i.get(key) or []) if isinstance(n, str)}
                for key in ("users", "groups")
            }
            user_model = get_user_model()
            ctx.cache["flags.named"] = {
                "users": {
                    u.get_username(): u
                    for u in user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__in": names["users"]})
                },
                "groups": {g.name: g for g in Group.objects.filter(name__in=names["groups"])},
            }
        named: dict[str, dict[str, Any]] = ctx.cache["flags.named"]
        return named

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems: list[tuple[Any, str]] = []
        named = self._named(ctx)
        for key, what in (("users", "user"), ("groups", "group")):
            for index, name in enumerate(item.get(key) or []):
                if name not in named[key]:
                    problems.append(((key, index), f"no {what} {name!r}"))
        for index, slug in enumerate(item.get("teams") or []):
            if not ctx.will_exist("teams", (slug,)):
                problems.append((("teams", index), f"no team {slug!r} (neither in the files nor stored)"))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        flag = obj or Flag()
        for key in ("name", "everyone", "superusers", "staff", "authenticated", "testing", "rollout", "note"):
            setattr(flag, key, values[key])
        flag.percent = None if values["percent"] is None else Decimal(str(values["percent"]))
        named = self._named(ctx)
        many = {
            "users": [named["users"][n] for n in values["users"]],
            "groups": [named["groups"][n] for n in values["groups"]],
            "teams": [ctx.lookup("teams", (slug,)) for slug in values["teams"]],
        }
        return Built(flag, many=many)

    def clean_exclude(self) -> list[str]:
        return ["users", "groups", "teams"]

    def write_many(self, built: Built) -> None:
        super().write_many(built)
        built.instance.flush()  # waffle caches a flag's users, groups (and our teams) apart from the row
