from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from dashboard.views import overview, sources, system

urlpatterns: list[URLPattern | URLResolver] = [
    path("", overview.overview, name="overview"),
    path("overview/cards.json", overview.cards_json, name="overview-cards"),
    path("overview/sparklines.json", overview.sparklines_json, name="overview-sparklines"),
    path("sources/<slug:slug>/", sources.source_detail, name="source-detail"),
    path("sources/<slug:slug>/changes/", sources.source_changes, name="source-changes"),
    path("sources/<slug:slug>/latest.json", sources.source_latest_json, name="source-latest"),
    path("sources/<slug:slug>/latest/download", sources.source_latest_download, name="source-latest-download"),
    path("sources/<slug:slug>/series.json", sources.source_series_json, name="source-series"),
    path("system/", system.system, name="system"),
]
