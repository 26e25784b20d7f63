"""Status page URLs: the public pages under /status/ and the team's management pages under /manage/status-pages/."""

from __future__ import annotations

from django.urls import path

from statuspages import manage, public

app_name = "statuspages"

urlpatterns = [
    # Public (access by the page's visibility: statuspages/access.py).
    path("status/<slug:slug>/", public.status_page, name="page"),
    path("status/<slug:slug>/state.json", public.status_state, name="state"),
    path("status/<slug:slug>/unlock/", public.status_unlock, name="unlock"),
    # Management (login; READ to list, MANAGE in the page's team to change: accounts/teams.py).
    path("manage/status-pages/", manage.page_list, name="manage_list"),
    path("manage/status-pages/new/", manage.page_create, name="manage_create"),
    path("manage/status-pages/<int:page_id>/", manage.page_edit, name="manage_page"),
    path("manage/status-pages/<int:page_id>/delete/", manage.page_delete, name="manage_page_delete"),
    path("manage/status-pages/<int:page_id>/components/new/", manage.component_edit, name="manage_component_create"),
    path("manage/status-pages/<int:page_id>/components/<int:item_id>/", manage.component_edit, name="manage_component"),
    path(
        "manage/status-pages/<int:page_id>/components/<int:item_id>/delete/",
        manage.component_delete,
        name="manage_component_delete",
    ),
    path("manage/status-pages/<int:page_id>/incidents/new/", manage.incident_edit, name="manage_incident_create"),
    path("manage/status-pages/<int:page_id>/incidents/<int:item_id>/", manage.incident_edit, name="manage_incident"),
    path(
        "manage/status-pages/<int:page_id>/incidents/<int:item_id>/updates/",
        manage.incident_update_add,
        name="manage_incident_update",
    ),
    path(
        "manage/status-pages/<int:page_id>/incidents/<int:item_id>/delete/",
        manage.incident_delete,
        name="manage_incident_delete",
    ),
    path(
        "manage/status-pages/<int:page_id>/maintenance/new/", manage.maintenance_edit, name="manage_maintenance_create"
    ),
    path(
        "manage/status-pages/<int:page_id>/maintenance/<int:item_id>/",
        manage.maintenance_edit,
        name="manage_maintenance",
    ),
    path(
        "manage/status-pages/<int:page_id>/maintenance/<int:item_id>/delete/",
        manage.maintenance_delete,
        name="manage_maintenance_delete",
    ),
]
