from __future__ import annotations

from django.urls import path

from alerts import views

# Included at api/v1/alerts (devops_insights/urls.py), ahead of the api/ app's own routes.
urlpatterns = [path("", views.alerts, name="api-alerts")]
