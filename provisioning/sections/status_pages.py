"""``status_pages:``, ``status_page_components:`` and ``maintenance_windows:``: public status pages (by slug,
unique across teams), their components (by page and name), each grouping sources, and the scheduled
maintenance shown on them (by page and title).

A page's password is not described: a ``password`` page gets its password in the management pages (a hash
cannot be exported or compared as a reference). Incidents are not described either: they are what happens
(opened by people or by alerts while it happens, then updated and resolved), not setup decided in advance;
a file that declared them would fight the people handling them (docs/config-as-code.md). A maintenance
window is planned work, decided ahead like the rest, so it is described; the silences it keeps for its
components' sources follow it (``statuspages.maintenance``, through the model's own signals). A window that
has ended is the page's history: exported, but never pruned.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils import timezone

from provisioning.context import Context, Skip
from provisioning.sections.base import (
    BOOLEAN,
    DATETIME,
    INTEGER,
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
from statuspages.models import Component, MaintenanceWindow, StatusPage

PAGE = Ref("status_pages", "slug", "status page")


class StatusPages(Section):
    name = "status_pages"
    title = "Status pages (docs/status-pages.md)"
    model = StatusPage
    key_fields = ("slug",)
    fields: ClassVar[tuple[Field, ...]] = (
        from_model(StatusPage, "slug", "slug", STRING, description="Unique across teams: the natural key."),
        TEAM_FIELD,
        from_model(StatusPage, "title", "title", STRING),
        from_model(StatusPage, "logo", "logo", STRING),
        from_model(StatusPage, "custom_host", "custom_host", STRING),
        from_model(StatusPage, "visibility", "visibility", STRING),
        from_model(StatusPage, "description", "description", STRING),
        from_model(StatusPage, "published", "published", BOOLEAN),
        from_model(StatusPage, "auto_draft_incidents", "auto_draft_incidents", BOOLEAN),
    )
    plain = ("slug", "title", "logo", "custom_host", "visibility", "description", "published", "auto_draft_incidents")
    refs: ClassVar[dict[str, Ref]] = {"team": TEAM}

    def load(self, ctx: Context) -> dict[Key, Any]:
        return self.keyed(ctx, StatusPage.objects.select_related("team"), lambda page: (page.slug,))

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems = super().check(item, ctx)
        stored = ctx.stored[self.name].get((str(item["slug"]),))
        team = self.item_team(item, ctx)
        if stored is None or team is None or stored.team.slug == team:
            return problems
        # A page moving to another team keeps the stored components the files leave alone: each must group
        # only sources of the new team (as they will be), or the page would show another team's states and
        # its windows silence another team's alerts. Components the files describe are checked as described.
        components = ctx.stored.get("status_page_components", {})
        declared = ctx.declared.get("status_page_components", set())
        doomed = ctx.doomed.get("status_page_components", set())
        for (page, name), component in sorted(components.items()):
            if page != stored.slug or (page, name) in declared or (page, name) in doomed:
                continue
            for source in sorted(component.sources.all(), key=lambda s: s.slug):
                try:
                    found = ctx.lookup("sources", (source.slug,))
                except Skip:
                    continue  # declared but described wrongly: reported there
                if found is not None and found.team.slug != team:
                    problems.append(
                        (
                            "team",
                            f"the page's component {name!r} groups the source {source.slug!r} of the team "
                            f"{found.team.slug!r}, and a page shows only its own team's sources: take it off the "
                            f"component (or describe the component without it) to move the page to {team!r}",
                        )
                    )
        return problems


class _OfPage(Section):
    """Parts of a status page: the page's team owns them."""

    teamed = False

    def item_is_global(self, item: dict[str, Any]) -> bool:
        return False

    def item_team(self, item: dict[str, Any], ctx: Context | None = None) -> str | None:
        return None

    def team_of(self, obj: Any) -> str | None:
        return str(obj.page.team.slug)

    def owner_team(self, item: dict[str, Any], ctx: Context) -> str | None:
        # The page's team: a component shows, and a window silences, only sources of the page's team.
        return owning_team(ctx, PAGE, item["page"]) if item.get("page") else None


class StatusPageComponents(_OfPage):
    name = "status_page_components"
    title = "Components of status pages: each groups sources"
    model = Component
    key_fields = ("page", "name")
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
    plain = ("name", "description", "order", "published", "show_metric", "show_metric_unit")
    refs: ClassVar[dict[str, Ref]] = {"page": PAGE}
    lists: ClassVar[dict[str, Ref]] = {"sources": SOURCE}

    def load(self, ctx: Context) -> dict[Key, Any]:
        components = Component.objects.select_related("page__team").prefetch_related("sources")
        return self.keyed(ctx, components, lambda component: (component.page.slug, component.name))


class MaintenanceWindows(_OfPage):
    name = "maintenance_windows"
    title = "Scheduled maintenance shown on status pages (silences its components' sources)"
    model = MaintenanceWindow
    key_fields = ("page", "title")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("page", STRING, description="Slug of the status page.", model_field="page"),
        from_model(MaintenanceWindow, "title", "title", STRING, description="Unique within the page: the natural key."),
        from_model(MaintenanceWindow, "body", "body", STRING),
        Field(
            "components",
            STRINGS,
            list,
            "Names of the page's components under maintenance (their sources are silenced).",
            model_field="components",
        ),
        Field("starts_at", DATETIME, description="ISO 8601 with a time zone.", model_field="starts_at"),
        Field("ends_at", DATETIME, description="ISO 8601 with a time zone.", model_field="ends_at"),
    )
    plain = ("title", "body", "starts_at", "ends_at")
    refs: ClassVar[dict[str, Ref]] = {"page": PAGE}

    def load(self, ctx: Context) -> dict[Key, Any]:
        windows = MaintenanceWindow.objects.select_related("page__team").prefetch_related("components")
        return self.keyed(ctx, windows, lambda window: (window.page.slug, window.title))

    def prunes(self, obj: Any) -> bool:
        return bool(obj.ends_at > timezone.now())  # an ended window is the page's history

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        return {**super().actual(obj, ctx), "components": sorted(c.name for c in obj.components.all())}

    def desired(self, item: dict[str, Any], resolved: dict[tuple[str, ...], str]) -> dict[str, Any]:
        values = super().desired(item, resolved)
        values["components"] = sorted(set(values["components"]))
        return values

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems = super().check(item, ctx)
        for index, name in enumerate(item.get("components") or []):
            if not ctx.will_exist("status_page_components", (str(item["page"]), name)):
                where = f"on the page {item['page']!r} (neither in the files nor stored)"
                problems.append((("components", index), f"no component {name!r} {where}"))
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        built = super().build(obj, values, ctx)
        page = values["page"]
        built.many["components"] = [ctx.lookup("status_page_components", (page, name)) for name in values["components"]]
        return built

    def clean_exclude(self) -> list[str]:
        return [*super().clean_exclude(), "components", "silences", "created_by"]
