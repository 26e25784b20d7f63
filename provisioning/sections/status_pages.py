"""``status_pages:`` and ``status_page_components:``: public status pages (by slug, unique across teams) and
their components (by page and name), each component grouping sources. A page's password is not described:
a ``password`` page gets its password in the management pages (a hash cannot be exported or compared as a
reference). Incidents and maintenance windows are what happens, not setup: not sections."""

from __future__ import annotations

from typing import Any, ClassVar

from accounts.models import DEFAULT_TEAM_SLUG
from provisioning.context import Context
from provisioning.sections.base import BOOLEAN, INTEGER, STRING, STRINGS, Built, Field, Key, Section, from_model, link
from statuspages.models import Component, StatusPage


class StatusPages(Section):
    name = "status_pages"
    title = "Status pages (docs/status-pages.md)"
    key_fields = ("slug",)
    fields: ClassVar[tuple[Field, ...]] = (
        from_model(StatusPage, "slug", "slug", STRING, description="Unique across teams: the natural key."),
        Field("team", STRING, DEFAULT_TEAM_SLUG, "Slug of the owning team.", model_field="team"),
        from_model(StatusPage, "title", "title", STRING),
        from_model(StatusPage, "logo", "logo", STRING),
        from_model(StatusPage, "custom_host", "custom_host", STRING),
        from_model(StatusPage, "visibility", "visibility", STRING),
        from_model(StatusPage, "description", "description", STRING),
        from_model(StatusPage, "published", "published", BOOLEAN),
        from_model(StatusPage, "auto_draft_incidents", "auto_draft_incidents", BOOLEAN),
    )
    VALUES = ("title", "logo", "custom_host", "visibility", "description", "published", "auto_draft_incidents")

    def load(self, ctx: Context) -> dict[Key, Any]:
        return {(page.slug,): page for page in StatusPage.objects.select_related("team")}

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {"slug": obj.slug, "team": obj.team.slug, **{key: getattr(obj, key) for key in self.VALUES}}

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        team = item.get("team", DEFAULT_TEAM_SLUG)
        if not ctx.will_exist("teams", (team,)):
            return [("team", f"no team {team!r} (neither in the files nor stored)")]
        return []

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        page = obj or StatusPage()
        page.slug = values["slug"]
        for key in self.VALUES:
            setattr(page, key, values[key])
        link(page, "team", ctx.lookup("teams", (values["team"],)))
        return Built(page, links={"team": page.team})


class StatusPageComponents(Section):
    name = "status_page_components"
    title = "Components of status pages: each groups sources"
    key_fields = ("page", "name")
    teamed = False  # the page's team owns it
    fields: ClassVar[tuple[Field, ...]] = (
        Field("page", STRING, description="Slug of the status page.", model_field="page"),
        from_model(Component, "name", "name", STRING, description="Unique within the page: the natural key."),
        from_model(Component, "description", "description", STRING),
        Field(
            "sources",
            STRINGS,
            list,
            "Slugs of the sources whose worst state is the component's.",
            model_field="sources",
        ),
        from_model(Component, "order", "order", INTEGER),
        from_model(Component, "published", "published", BOOLEAN),
        from_model(Component, "show_metric", "show_metric", STRING),
        from_model(Component, "show_metric_unit", "show_metric_unit", STRING),
    )
    VALUES = ("name", "description", "order", "published", "show_metric", "show_metric_unit")

    def item_is_global(self, item: dict[str, Any]) -> bool:
        return False

    def item_team(self, item: dict[str, Any], ctx: Context | None = None) -> str | None:
        return None

    def load(self, ctx: Context) -> dict[Key, Any]:
        found: dict[Key, Any] = {}
        for component in Component.objects.select_related("page__team").prefetch_related("sources").order_by("pk"):
            found.setdefault((component.page.slug, component.name), component)
        return found

    def team_of(self, obj: Any) -> str | None:
        return str(obj.page.team.slug)

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        values = {key: getattr(obj, key) for key in self.VALUES}
        return {"page": obj.page.slug, **values, "sources": sorted(s.slug for s in obj.sources.all())}

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        values = super().desired(item, resolved)
        values["sources"] = sorted(set(values["sources"]))
        return values

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems: list[tuple[Any, str]] = []
        if not ctx.will_exist("status_pages", (item["page"],)):
            problems.append(("page", f"no status page {item['page']!r} (neither in the files nor stored)"))
        for index, slug in enumerate(item.get("sources") or []):
            if not ctx.will_exist("sources", (slug,)):
                problems.append((("sources", index), f"no source {slug!r} (neither in the files nor stored)"))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        component = obj or Component()
        for key in self.VALUES:
            setattr(component, key, values[key])
        page = ctx.lookup("status_pages", (values["page"],))
        link(component, "page", page)
        sources = [ctx.lookup("sources", (slug,)) for slug in values["sources"]]
        return Built(component, links={"page": page}, many={"sources": sources})

    def clean_exclude(self) -> list[str]:
        return ["page", "sources"]
