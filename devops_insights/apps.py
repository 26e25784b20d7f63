from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_tables(*, using: str, verbosity: int = 1, **_kwargs: Any) -> None:
    """The shared cache's table (devops_insights.shared_cache) with the schema: `make run` and every
    `migrate` then have it. Sent once per app with models (this app has none, so it cannot be the only
    sender); Django adds nothing when the table exists or no database cache is configured. One level
    quieter than `migrate`: at its default, each of those apps would print that the table exists."""
    call_command("createcachetable", database=using, verbosity=max(verbosity - 1, 0))


class DevopsInsightsConfig(AppConfig):
    name = "devops_insights"
    verbose_name = "DevOps Insights"

    def ready(self) -> None:
        from devops_insights import checks  # noqa: F401 - registers system checks

        post_migrate.connect(create_cache_tables, dispatch_uid="devops_insights.create_cache_tables")
