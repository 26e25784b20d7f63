from __future__ import annotations

from allauth.account import views as allauth_views
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from accounts import views
from accounts.allauth_urls import refusing_with_400

urlpatterns: list[URLPattern | URLResolver] = [
    path("accounts/tokens/", views.tokens, name="api-tokens"),
    path("accounts/tokens/<int:pk>/revoke/", views.revoke_token, name="api-token-revoke"),
    # The short names the templates have always used, on allauth's own paths and views.
    path("accounts/login/", refusing_with_400(allauth_views.login), name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    # The product's password page keeps its address and form; allauth's /accounts/password/change/ works too.
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # Login, logout, password change and reset, e-mail, MFA (/accounts/2fa/) and SSO (django-allauth); a refused
    # form answers 400 there too (accounts/allauth_urls.py).
    path("accounts/", include("accounts.allauth_urls")),
]
