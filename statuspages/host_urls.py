"""The URLs answered on a page's custom host (statuspages/hosts.py): its public URLs at the root, nothing else."""

from __future__ import annotations

from django.urls import include, path

from statuspages import public
from statuspages.feed_urls import page_routes as feed_routes

app_name = "statuspages_host"

urlpatterns = [
    path("", public.status_page, name="page"),
    path("state.json", public.status_state, name="state"),
    path("unlock/", public.status_unlock, name="unlock"),
    # The page's feeds, Statuspage v2 JSON and badges (statuspages/feed_urls.py).
    path("", include((feed_routes, "statuspages_feeds"))),
]
