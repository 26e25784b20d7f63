"""The URLs answered on a page's custom host (statuspages/hosts.py): its public URLs at the root, nothing else."""

from __future__ import annotations

from django.urls import path

from statuspages import public

app_name = "statuspages_host"

urlpatterns = [
    path("", public.status_page, name="page"),
    path("state.json", public.status_state, name="state"),
    path("unlock/", public.status_unlock, name="unlock"),
]
