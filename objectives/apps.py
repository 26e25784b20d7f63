from __future__ import annotations

from django.apps import AppConfig


class ObjectivesConfig(AppConfig):
    """Service level objectives: attainment, error budgets, burn rates and reports."""

    name = "objectives"
    default_auto_field = "django.db.models.BigAutoField"
