"""Receivers that turn allauth's and Django's account signals into audit events (connected in AccountsConfig.ready).

A completed login also marks the browser a known device (accounts/known_device.py), after the second
factor when the account has one.
"""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals
from django.http import HttpRequest

from accounts import audit, known_device


def on_logged_in(sender: Any, request: HttpRequest, user: Any, response: Any = None, **kwargs: Any) -> None:
    sociallogin = kwargs.get("sociallogin")
    provider = sociallogin.account.provider if sociallogin is not None else ""
    audit.record("login", request=request, user=user, method="sso" if provider else "password", provider=provider)
    if response is not None:
        known_device.remember(request, response, user.pk)


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record("logout", request=request, user=user)


def on_password_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit.record("password_changed", request=request, user=user)


def on_password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit.record("password_reset", request=request, user=user)


def _authenticator_event(action: str) -> Any:
    def receiver(sender: Any, request: HttpRequest, user: Any, authenticator: Any = None, **kwargs: Any) -> None:
        kind = str(getattr(authenticator, "type", "")) if authenticator is not None else ""
        audit.record(action, request=request, user=user, authenticator=kind)

    return receiver


on_mfa_added = _authenticator_event("mfa_added")
on_mfa_removed = _authenticator_event("mfa_removed")
on_mfa_reset = _authenticator_event("mfa_reset")
on_mfa_failed = _authenticator_event("mfa_failed")


def connect() -> None:
    account_signals.user_logged_in.connect(on_logged_in, dispatch_uid="audit.login")
    auth_signals.user_logged_out.connect(on_logged_out, dispatch_uid="audit.logout")
    account_signals.password_changed.connect(on_password_changed, dispatch_uid="audit.password_changed")
    account_signals.password_reset.connect(on_password_reset, dispatch_uid="audit.password_reset")
    mfa_signals.authenticator_added.connect(on_mfa_added, dispatch_uid="audit.mfa_added")
    mfa_signals.authenticator_removed.connect(on_mfa_removed, dispatch_uid="audit.mfa_removed")
    mfa_signals.authenticator_reset.connect(on_mfa_reset, dispatch_uid="audit.mfa_reset")
    mfa_signals.authentication_failed.connect(on_mfa_failed, dispatch_uid="audit.mfa_failed")
