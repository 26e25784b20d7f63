from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from objectives import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("objectives/", views.objective_list, name="objectives"),
    path("objectives/<int:pk>/", views.objective_detail, name="objective-detail"),
    path("reports/", views.report, name="reports"),
]
