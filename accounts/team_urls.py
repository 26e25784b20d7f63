"""Team pages (accounts/team_views.py), included by the project's urls."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from accounts import team_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("teams/", team_views.team_list, name="team-list"),
    path("teams/switch/", team_views.team_switch, name="team-switch"),
    path("teams/<slug:slug>/", team_views.team_detail, name="team-detail"),
    path("teams/<slug:slug>/leave/", team_views.team_leave, name="team-leave"),
    path("teams/<slug:slug>/members/<int:pk>/role/", team_views.member_role, name="team-member-role"),
    path("teams/<slug:slug>/members/<int:pk>/remove/", team_views.member_remove, name="team-member-remove"),
    path("teams/<slug:slug>/invitations/", team_views.invitation_new, name="team-invitation-new"),
    path("teams/<slug:slug>/invitations/<int:pk>/revoke/", team_views.invitation_revoke, name="team-invitation-revoke"),
    path("invitations/<str:token>/", team_views.invitation_accept, name="invitation-accept"),
]
