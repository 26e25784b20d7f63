from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.edits import save_edit
from accounts.scoped_forms import ScopedUniqueModelForm
from accounts.team_admin import TeamScopedAdmin
from accounts.teams import Action, restrict
from statuspages.models import Component, Incident, IncidentUpdate, MaintenanceWindow, StatusPage


class ComponentInline(admin.TabularInline):
    model = Component
    extra = 0
    fields = ["name", "order", "published", "show_metric", "show_metric_unit"]
    show_change_link = True


class StatusPageAdminForm(ScopedUniqueModelForm):
    """A page moves to another team only without components grouping sources of a team other than the new one."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        team = data.get("team")
        if self.instance.pk and team is not None and team.pk != self.instance.team_id:
            others = self.instance.foreign_source_teams(team.pk)
            if others:
                self.add_error(
                    "team", f"Its components group sources of {', '.join(others)}: take those off the components first."
                )
        return data


# Each admin lists, offers and changes only what the user's team role lets them manage (accounts.team_admin),
# as every team-owned model's admin does: a page by its team, its parts by their page's team.
@admin.register(StatusPage)
class StatusPageAdmin(TeamScopedAdmin):
    form = StatusPageAdminForm
    list_display = ["title", "slug", "team", "visibility", "published", "custom_host"]
    list_filter = ["visibility", "published", "team"]
    search_fields = ["title", "slug", "custom_host"]
    readonly_fields = ["created_at", "updated_at"]
    # The password is set on the management page (it is kept only as a hash).
    exclude = ["password_hash"]
    inlines = [ComponentInline]


class ComponentAdminForm(ScopedUniqueModelForm):
    """A component's sources are of its page's team, as on the management page (statuspages/forms.py) and in
    configuration files. The choices offer every team the user manages, the page is picked in the same form."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        page, sources = data.get("page"), data.get("sources")
        if page is not None and sources is not None and not page.may_group(sources):
            self.add_error("sources", "Choose sources of the page's team only.")
        return data


@admin.register(Component)
class ComponentAdmin(TeamScopedAdmin):
    form = ComponentAdminForm
    team_field = "page__team"
    list_display = ["name", "page", "order", "published", "show_metric"]
    list_filter = ["published", ("page", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "page__title"]
    filter_horizontal = ["sources"]
    readonly_fields = ["badge_key", "created_at", "updated_at"]


class IncidentUpdateInline(admin.StackedInline):
    model = IncidentUpdate
    extra = 0
    fields = ["status", "body", "created_at", "created_by"]


class PagePartForm(forms.ModelForm):
    """An incident's or a window's components are of its own page, as on the management pages
    (statuspages/forms.py): a window silences its components' sources, so a component of another page
    would silence what that page's team watches."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        page, components = data.get("page"), data.get("components")
        if page is not None and components is not None and any(c.page_id != page.pk for c in components):
            self.add_error("components", "Choose components of this page only.")
        return data


class PagePartAdmin(TeamScopedAdmin):
    """TeamScopedAdmin scopes the choices of models with a ``team`` field; a component has its page's."""

    form = PagePartForm
    team_field = "page__team"

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Component and not self._bypass(request):
            kwargs["queryset"] = restrict(
                Component.objects.select_related("page"), request.user, Action.MANAGE, field="page__team"
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Incident)
class IncidentAdmin(PagePartAdmin):
    list_display = ["title", "page", "status", "impact", "is_draft", "started_at", "resolved_at"]
    list_filter = ["status", "impact", "is_draft", ("page", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title"]
    filter_horizontal = ["components"]
    readonly_fields = ["opened_by_event", "opened_for", "created_by", "created_at", "updated_at"]
    inlines = [IncidentUpdateInline]

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        save_edit(obj, change, obj.save_refusing_twins)

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # save_model's refusal (another admin reopened a twin since the form's check) has undone the whole
        # change (the view's transaction): say why on the same page instead of a server error.
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(PagePartAdmin):
    list_display = ["title", "page", "starts_at", "ends_at"]
    list_filter = [("page", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title"]
    filter_horizontal = ["components"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
