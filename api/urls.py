from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from api import alerts_views, export_views, metrics_views, sources_views, status_views

app_name = "api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("sources", sources_views.sources, name="sources"),
    path("sources/<slug:slug>", sources_views.source_detail, name="source"),
    path("metrics", metrics_views.metrics_index, name="metrics"),
    path("metrics/<slug:slug>", metrics_views.metrics_detail, name="metrics-detail"),
    path("metrics/<slug:slug>/history", metrics_views.history, name="history"),
    path("metrics/<slug:slug>/series", metrics_views.series, name="series"),
    path("metrics/<slug:slug>/changes", metrics_views.changes, name="changes"),
    path("export/<slug:slug>", export_views.export, name="export"),
    path("alerts", alerts_views.alerts, name="alerts"),
    path("ready", status_views.ready, name="ready"),
    path("info", status_views.info, name="info"),
    path("openapi.json", status_views.openapi, name="openapi"),
]
