from __future__ import annotations

from typing import Any

from django.contrib import admin

from accounts.models import DEFAULT_TEAM_SLUG, Team
from accounts.scoped_forms import ScopedUniqueModelForm
from accounts.team_admin import TeamScopedAdmin
from objectives.models import Objective, ReportSubscription


class ObjectiveForm(ScopedUniqueModelForm):
    """An objective's chosen sources are of its own team, as the API and configuration as code require: the
    admin offers the sources of every team the user manages, and one of another team would be linked and
    silently left out of the objective (``Objective.covered_sources``)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        team, sources = data.get("team"), data.get("sources")
        if team is None:  # left blank (a superuser): saved into the default team
            team = Team.objects.filter(slug=DEFAULT_TEAM_SLUG).first()
        if team is not None and sources is not None and any(s.team_id != team.pk for s in sources):
            self.add_error("sources", "Choose sources of the objective's team only.")
        tag = data.get("tag") or ""
        covered = team is None or Objective(team=team, tag=tag).tag_covers_any()
        if "sources" in data and (coverage := Objective.coverage_problem(bool(sources), tag, covered)):
            self.add_error("tag" if tag and not sources else "sources", f"{coverage[:1].upper()}{coverage[1:]}.")
        return data


@admin.register(Objective)
class ObjectiveAdmin(TeamScopedAdmin):
    form = ObjectiveForm
    list_display = ("name", "team", "kind", "target", "window_days", "window_kind", "tag")
    list_filter = ("kind", "window_kind", "team")
    filter_horizontal = ("sources",)


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(TeamScopedAdmin):
    list_display = ("team", "source", "recipients", "enabled", "last_sent_month")
