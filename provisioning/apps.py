from __future__ import annotations

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    """Configuration as code: export, plan and apply the whole setup from YAML files; feature flags."""

    name = "provisioning"
    default_auto_field = "django.db.models.BigAutoField"
