from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from dashboard.views import alerts_page, manage_sources, overview, sources, system

urlpatterns: list[URLPattern | URLResolver] = [
    path("", overview.overview, name="overview"),
    path("overview/cards.json", overview.cards_json, name="overview-cards"),
    path("overview/sparklines.json", overview.sparklines_json, name="overview-sparklines"),
    path("sources/new/", manage_sources.source_new, name="source-new"),
    path("sources/<slug:slug>/edit/", manage_sources.source_edit, name="source-edit"),
    path("sources/<slug:slug>/delete/", manage_sources.source_delete, name="source-delete"),
    re_path(
        r"^sources/(?P<slug>[-a-zA-Z0-9_]+)/(?P<action>pause|resume|poll|trial)/$",
        manage_sources.source_action,
        name="source-action",
    ),
    path("alerts/", alerts_page.alerts_page, name="alerts"),
    path("alerts/silence/<slug:slug>/", alerts_page.silence_source, name="alerts-silence"),
    path("alerts/silences/<int:pk>/end/", alerts_page.end_silence, name="alerts-silence-end"),
    path("alerts/states/<int:pk>/acknowledge/", alerts_page.acknowledge, name="alerts-acknowledge"),
    path("alerts/rules/new/", alerts_page.rule_form, name="alerts-rule-new"),
    path("alerts/rules/<int:pk>/", alerts_page.rule_form, name="alerts-rule-edit"),
    path("alerts/channels/new/", alerts_page.channel_form, name="alerts-channel-new"),
    path("alerts/channels/<int:pk>/", alerts_page.channel_form, name="alerts-channel-edit"),
    path("alerts/channels/<int:pk>/test/", alerts_page.channel_test, name="alerts-channel-test"),
    path("sources/<slug:slug>/", sources.source_detail, name="source-detail"),
    path("sources/<slug:slug>/changes/", sources.source_changes, name="source-changes"),
    path("sources/<slug:slug>/latest.json", sources.source_latest_json, name="source-latest"),
    path("sources/<slug:slug>/latest/download", sources.source_latest_download, name="source-latest-download"),
    path("sources/<slug:slug>/series.json", sources.source_series_json, name="source-series"),
    path("sources/<slug:slug>/parts.json", sources.source_parts_json, name="source-parts"),
    path("system/", system.system, name="system"),
    path("system/state.json", system.system_state_json, name="system-state"),
]
