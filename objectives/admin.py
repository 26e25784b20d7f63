from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.teams import Action, restrict
from objectives.models import Objective, ReportSubscription


class TeamScopedAdmin(admin.ModelAdmin):
    """Admin lists only what the user may manage (accounts.teams is the one access rule)."""

    def get_queryset(self, request: HttpRequest) -> Any:
        return restrict(super().get_queryset(request), request.user, Action.MANAGE)


@admin.register(Objective)
class ObjectiveAdmin(TeamScopedAdmin):
    list_display = ("name", "team", "kind", "target", "window_days", "window_kind", "tag")
    list_filter = ("kind", "window_kind", "team")
    filter_horizontal = ("sources",)


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(TeamScopedAdmin):
    list_display = ("team", "source", "recipients", "enabled", "last_sent_month")
