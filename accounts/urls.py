from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from accounts import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("accounts/tokens/", views.tokens, name="api-tokens"),
    path("accounts/tokens/<int:pk>/revoke/", views.revoke_token, name="api-token-revoke"),
]
