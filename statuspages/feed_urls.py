"""Routes of the feeds, the Statuspage v2 JSON and the badges, included under ``/status/`` (see
docs/status-pages.md#feeds-json-and-badges for who may reach each)."""

from __future__ import annotations

from django.urls import include, path

from statuspages import feed_views as views

app_name = "statuspages_feeds"

# The page's routes, relative to the page: under /status/<slug>/ here, at / of its custom host
# (statuspages/host_urls.py includes ``page_routes`` there, where the views find the page by host).
page_routes = [
    path("feed.atom", views.atom_feed, name="atom"),
    path("feed.json", views.json_feed, name="json"),
    path("api/v2/summary.json", views.v2_summary, name="v2-summary"),
    path("api/v2/status.json", views.v2_status, name="v2-status"),
    path("api/v2/components.json", views.v2_components, name="v2-components"),
    path("api/v2/incidents.json", views.v2_incidents, name="v2-incidents"),
    path("api/v2/incidents/unresolved.json", views.v2_incidents_unresolved, name="v2-unresolved"),
    path("api/v2/scheduled-maintenances.json", views.v2_scheduled_maintenances, name="v2-maintenances"),
    path(
        "api/v2/scheduled-maintenances/upcoming.json",
        views.v2_scheduled_maintenances_upcoming,
        name="v2-maintenances-upcoming",
    ),
    path(
        "api/v2/scheduled-maintenances/active.json",
        views.v2_scheduled_maintenances_active,
        name="v2-maintenances-active",
    ),
    path("badge.svg", views.page_status_badge, name="page-badge"),
    path("badges/<str:component_id>/<str:kind>.svg", views.slug_badge, name="slug-badge"),
]

urlpatterns = [
    path("<slug:slug>/", include(page_routes)),
    path("badges/<str:key>/<str:kind>.svg", views.key_badge, name="key-badge"),
]
