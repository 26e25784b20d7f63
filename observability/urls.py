from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from observability import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("metrics", views.metrics, name="prometheus-metrics"),
]
