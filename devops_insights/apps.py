from __future__ import annotations

from django.apps import AppConfig


class DevopsInsightsConfig(AppConfig):
    name = "devops_insights"
    verbose_name = "DevOps Insights"

    def ready(self) -> None:
        from devops_insights import checks  # noqa: F401 - registers system checks
