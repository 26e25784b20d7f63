from __future__ import annotations

from django.apps import AppConfig


class ObjectivesConfig(AppConfig):
    """Service level objectives: attainment, error budgets, burn rates and reports."""

    name = "objectives"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from metrics.lifecycle.signals import rollups_wanted
        from objectives.retention import wanted_rollups

        # Retention (metrics) must not prune the minutes a metric objective and its monthly report count.
        rollups_wanted.connect(wanted_rollups, dispatch_uid="objectives.rollups_wanted")
