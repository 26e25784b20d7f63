from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "JSON API"

    def ready(self) -> None:
        from api import alerts_openapi

        alerts_openapi.register()  # GET /api/v1/alerts in /api/v1/openapi.json, covered by the contract test
