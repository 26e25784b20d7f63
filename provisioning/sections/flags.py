"""``flags:``: feature flags (waffle, ``provisioning.models.Flag``), by name: on for everyone, a percentage,
superusers, staff, signed-in users, named users and groups, and the members of named teams."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from provisioning.context import Context
from provisioning.models import Flag
from provisioning.sections.base import (
    BOOLEAN,
    NUMBER,
    STRING,
    STRINGS,
    TEAM,
    Built,
    Field,
    Key,
    Ref,
    Section,
    from_model,
)


class Flags(Section):
    name = "flags"
    title = "Feature flags (docs/feature-flags.md)"
    model = Flag
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

    plain = ("name", "everyone", "superusers", "staff", "authenticated", "testing", "rollout", "note")
    lists: ClassVar[dict[str, Ref]] = {"teams": TEAM}

    def load(self, ctx: Context) -> dict[Key, Any]:
        flags = Flag.objects.prefetch_related("users", "groups", "teams")  # type: ignore[misc]
        return self.keyed(ctx, flags, lambda flag: (flag.name,))

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {
            **super().actual(obj, ctx),
            "percent": None if obj.percent is None else float(obj.percent),
            "users": sorted(user.get_username() for user in obj.users.all()),
            "groups": sorted(group.name for group in obj.groups.all()),
        }

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        values = super().desired(item, resolved)
        for key in ("users", "groups"):
            values[key] = sorted(set(values[key]))
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
        problems = super().check(item, ctx)
        named = self._named(ctx)
        for key, what in (("users", "user"), ("groups", "group")):
            for index, name in enumerate(item.get(key) or []):
                if name not in named[key]:
                    problems.append(((key, index), f"no {what} {name!r}"))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        built = super().build(obj, values, ctx)
        built.instance.percent = None if values["percent"] is None else Decimal(str(values["percent"]))
        named = self._named(ctx)
        built.many["users"] = [named["users"][n] for n in values["users"]]
        built.many["groups"] = [named["groups"][n] for n in values["groups"]]
        return built

    def clean_exclude(self) -> list[str]:
        return ["users", "groups", "teams"]

    def write_many(self, built: Built) -> None:
        super().write_many(built)
        built.instance.flush()  # waffle caches a flag's users, groups (and our teams) apart from the row
