from __future__ import annotations

from django.contrib import admin

from accounts.team_admin import TeamScopedAdmin
from objectives.models import Objective, ReportSubscription


@admin.register(Objective)
class ObjectiveAdmin(TeamScopedAdmin):
    list_display = ("name", "team", "kind", "target", "window_days", "window_kind", "tag")
    list_filter = ("kind", "window_kind", "team")
    filter_horizontal = ("sources",)


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(TeamScopedAdmin):
    list_display = ("team", "source", "recipients", "enabled", "last_sent_month")
