from __future__ import annotations

from django.contrib import admin

from accounts.team_admin import TeamScopedAdmin
from statuspages.models import Component, Incident, IncidentUpdate, MaintenanceWindow, StatusPage


class ComponentInline(admin.TabularInline):
    model = Component
    extra = 0
    fields = ["name", "order", "published", "show_metric", "show_metric_unit"]
    show_change_link = True


# Each admin lists, offers and changes only what the user's team role lets them manage (accounts.team_admin),
# as every team-owned model's admin does: a page by its team, its parts by their page's team.
@admin.register(StatusPage)
class StatusPageAdmin(TeamScopedAdmin):
    list_display = ["title", "slug", "team", "visibility", "published", "custom_host"]
    list_filter = ["visibility", "published", "team"]
    search_fields = ["title", "slug", "custom_host"]
    readonly_fields = ["created_at", "updated_at"]
    # The password is set on the management page (it is kept only as a hash).
    exclude = ["password_hash"]
    inlines = [ComponentInline]


@admin.register(Component)
class ComponentAdmin(TeamScopedAdmin):
    team_field = "page__team"
    list_display = ["name", "page", "order", "published", "show_metric"]
    list_filter = ["published", "page"]
    search_fields = ["name", "page__title"]
    filter_horizontal = ["sources"]
    readonly_fields = ["badge_key", "created_at", "updated_at"]


class IncidentUpdateInline(admin.StackedInline):
    model = IncidentUpdate
    extra = 0
    fields = ["status", "body", "created_at", "created_by"]


@admin.register(Incident)
class IncidentAdmin(TeamScopedAdmin):
    team_field = "page__team"
    list_display = ["title", "page", "status", "impact", "is_draft", "started_at", "resolved_at"]
    list_filter = ["status", "impact", "is_draft", "page"]
    search_fields = ["title"]
    filter_horizontal = ["components"]
    readonly_fields = ["opened_by_event", "created_by", "created_at", "updated_at"]
    inlines = [IncidentUpdateInline]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(TeamScopedAdmin):
    team_field = "page__team"
    list_display = ["title", "page", "starts_at", "ends_at"]
    list_filter = ["page"]
    search_fields = ["title"]
    filter_horizontal = ["components"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
