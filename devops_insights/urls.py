from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from devops_insights import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/health", views.health, name="health"),
    path("api/v1/", include("api.urls")),
    path("", include("accounts.urls")),
    path("", include("observability.urls")),
    path("", include("dashboard.urls")),
]
