from __future__ import annotations

from allauth.account import views as allauth_views
from django.urls import URLPattern, URLResolver, include, path

from accounts import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("accounts/tokens/", views.tokens, name="api-tokens"),
    path("accounts/tokens/<int:pk>/revoke/", views.revoke_token, name="api-token-revoke"),
    # The short names the templates have always used, on allauth's own paths and views.
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    path("accounts/password/change/", allauth_views.password_change, name="password_change"),
    # Login, logout, password change and reset, e-mail, MFA (/accounts/2fa/) and SSO (django-allauth).
    path("accounts/", include("allauth.urls")),
]
