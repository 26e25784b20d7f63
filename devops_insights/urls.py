from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from api.ninja_api import api

# The admin stays for superusers and staff; it says whose it is.
admin.site.site_header = "DevOps Insights administration"
admin.site.site_title = "DevOps Insights admin"
admin.site.index_title = "Administration"

urlpatterns = [
    path("admin/", admin.site.urls),
    # The whole JSON API, alerting's /api/v1/alerts and the liveness probe included (api/ninja_api.py).
    path("api/v1/", api.urls),
    # Status pages' feeds, Statuspage v2 JSON and badges (statuspages/feed_urls.py).
    path("status/", include("statuspages.feed_urls")),
    path("", include("accounts.urls")),
    path("", include("accounts.team_urls")),
    path("", include("observability.urls")),
    path("", include("objectives.urls")),
    # Public status pages (/status/<slug>/) and their management (/manage/status-pages/).
    path("", include("statuspages.urls")),
    path("", include("boards.urls")),
    path("", include("dashboard.urls")),
]
