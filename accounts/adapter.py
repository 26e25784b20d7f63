"""allauth adapters: the login lockout's keys, SSO-only mode, the SSO e-mail domain list, the client address.

Lockout (the one mechanism: allauth's rate limits, counted under a cache lock before the password is
checked, a successful login's count rolled back). A failed password counts against two keys:

- the user name + client pair (``LOGIN_RATE_LIMIT_USERNAME``): a stranger's failures from another
  client never lock the owner out; the client is the known device (accounts/known_device.py) when the
  browser carries one for this account, else the client IP;
- the client IP across user names (``LOGIN_RATE_LIMIT_IP``), against guessing many accounts; a known
  device is spared it, so the owner gets through from an address a stranger is hammering.

A passkey login (WebAuthn, a second factor on its own) never goes through the password count.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal import ratelimit  # the adapter's own import: consume() with a per-request config
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import render

from accounts import audit, known_device
from accounts.client_ip import client_ip, rate_limit_key

SSO_ONLY_MESSAGE = "Password sign-in is turned off for this account: use single sign-on."


def login_of(credentials: dict[str, Any]) -> str:
    return str(credentials.get("email") or credentials.get("username") or "").strip().lower()[:254]


def user_pk_for_login(login: str) -> Any:
    if not login:
        return None
    return (
        get_user_model()
        .objects.filter(Q(username__iexact=login) | Q(email__iexact=login))
        .values_list("pk", flat=True)
        .first()
    )


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # Django's wording, which the login page has always shown (and says nothing about which part was wrong).
        "username_password_mismatch": "Please enter a correct username and password. Both are case-sensitive.",
        "email_password_mismatch": "Please enter a correct username and password. Both are case-sensitive.",
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are made by an administrator (or by SSO, SocialAccountAdapter); no self sign-up.
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        # The same address the API's rate limits use (trusted proxy header, accounts/client_ip.py).
        return client_ip(request)

    def lockout_key_and_rates(self, request: HttpRequest, credentials: dict[str, Any]) -> tuple[str, str]:
        login = login_of(credentials)
        device = known_device.device_for(request, user_pk_for_login(login))
        pair = f"{settings.LOGIN_RATE_LIMIT_USERNAME}/key"
        if device:
            return f"{login}|device:{device}", pair
        return f"{login}|ip:{rate_limit_key(request)}", f"{settings.LOGIN_RATE_LIMIT_IP}/ip,{pair}"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        key, rates = self.lockout_key_and_rates(request, credentials)
        self._login_failed_rl_usage = ratelimit.consume(
            request, app="allauth.account", action="login_failed", config={"login_failed": rates}, key=key
        )
        if not self._login_failed_rl_usage:
            audit.record("login_locked", request=request, actor_label=login_of(credentials))
            raise self.validation_error("too_many_login_attempts")

    def _delete_login_attempts_cached_email(self, request: HttpRequest, **credentials: Any) -> None:
        # A password reset clears the pair this browser would count against (allauth calls this after a reset).
        key, rates = self.lockout_key_and_rates(request, credentials)
        ratelimit.clear(request, app="allauth.account", action="login_failed", config={"login_failed": rates}, key=key)

    def authenticate(self, request: HttpRequest, **credentials: Any) -> AbstractBaseUser | None:
        user = super().authenticate(request, **credentials)
        if user is not None and settings.SSO_ONLY and not getattr(user, "is_superuser", False):
            audit.record("login_refused_sso_only", request=request, user=user)
            raise forms.ValidationError(SSO_ONLY_MESSAGE)
        return user

    def send_password_reset_mail(self, user: AbstractBaseUser, email: str, context: dict[str, Any]) -> None:
        # In SSO-only mode a password would be of no use but to superusers: no reset link for anyone else.
        # The form answers the same either way, so nobody learns which accounts exist or are superusers.
        if settings.SSO_ONLY and not getattr(user, "is_superuser", False):
            return
        super().send_password_reset_mail(user, email, context)

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        audit.record("login_failed", request=request, actor_label=login_of(credentials))


def email_domain_allowed(email: str) -> bool:
    allowed = settings.SSO_ALLOWED_EMAIL_DOMAINS
    if not allowed:
        return True
    domain = email.rpartition("@")[2].strip().lower()
    return bool(email) and "@" in email and domain in allowed


def sso_verified_emails(sociallogin: SocialLogin) -> list[str]:
    """The addresses an SSO login proves: those the provider reports as verified. Anyone can add an address they
    do not own to their GitHub or identity provider profile, unverified, so an unverified one proves nothing.

    A provider that reports no address list (GitLab: only the account's primary e-mail, which GitLab has
    confirmed) is taken at its account's e-mail."""
    if sociallogin.email_addresses:
        return [str(address.email) for address in sociallogin.email_addresses if address.verified]
    user_email = str(getattr(sociallogin.user, "email", "") or "")
    return [user_email] if user_email else []


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request: HttpRequest | None, provider: Any = None, client_id: Any = None) -> list[Any]:
        """Only the providers configured from the environment (settings), never SocialApp rows in the database:
        SSO is configured in one place, and the login page needs no query to draw its buttons."""
        from allauth.socialaccount.adapter import _build_apps_from_settings

        by_provider = _build_apps_from_settings(provider=provider, client_id=client_id)
        return [app for apps in by_provider.values() for app in apps]

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # A first SSO login makes the account (as a plain user); the domain list below decides who may.
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        if not settings.SSO_ALLOWED_EMAIL_DOMAINS:
            return
        emails = sso_verified_emails(sociallogin)
        if not any(email_domain_allowed(email) for email in emails):
            reported = [str(address.email) for address in sociallogin.email_addresses] or emails
            audit.record(
                "sso_refused",
                request=request,
                actor_label=(reported[0] if reported else ""),
                provider=sociallogin.account.provider,
                reason="email domain not allowed",
            )
            response = render(request, "socialaccount/domain_refused.html", {"emails": emails}, status=403)
            raise ImmediateHttpResponse(response)
