from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from dashboard.views import overview, sources, system

urlpatterns: list[URLPattern | URLResolver] = [
    path("", overview.overview, name="overview"),
    path("overview/cards.json", overview.cards_json, name="overview-cards"),
    path("overview/sparklines.json", overview.sparklines_json, name="overview-sparklines"),
    path("sources/<slug:slug>/", sources.source_detail, name="source-detail"),
    path("sources/<slug:slug>/changes/", sources.source_changes, name="source-changes"),
    path("sources/<slug:slug>/latest.json", sources.source_latest_json, name="source-latest"),
    path("sources/<slug:slug>/series.json", sources.source_series_json, name="source-series"),
    path("sources/<slug:slug>/parts.json", sources.source_parts_json, name="source-parts"),
    path("system/", system.system, name="system"),
    path("system/state.json", system.system_state_json, name="system-state"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
