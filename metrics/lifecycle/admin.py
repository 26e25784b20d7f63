"""Retention policies in the admin, on a working copy: a refused change (a source that already has its policy, a
tier kept shorter than the one below it) still names the policy as stored, not by the source chosen."""

from __future__ import annotations

from django.contrib import admin

from devops_insights.working_copy import WorkingCopyAdmin
from metrics.lifecycle.models import RetentionPolicy


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(WorkingCopyAdmin):
    list_display = ["scope", "raw_days", "minute_days", "hour_days", "day_days_display", "archive_raw", "updated_at"]
    list_filter = ["archive_raw"]
    search_fields = ["source__slug", "source__name"]
    fields = ["source", "raw_days", "minute_days", "hour_days", "day_days", "archive_raw"]

    @admin.display(description="applies to", ordering="source__slug")
    def scope(self, obj: RetentionPolicy) -> str:
        return obj.source.slug if obj.source else "all sources (default)"

    @admin.display(description="1-day rollups (days)")
    def day_days_display(self, obj: RetentionPolicy) -> str:
        return "forever" if obj.day_days is None else str(obj.day_days)
