"""The admins django-allauth registers, made to fit the product: its provider apps and tokens left out, the rest
on a working copy.

allauth's admin modules are imported by the admin's autodiscovery after this app's (it comes later in
``INSTALLED_APPS``), so this runs from ``AccountsConfig.ready``, once every admin is registered.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.db import models

from devops_insights.working_copy import WorkingCopyAdmin

# Single sign-on is configured from the environment alone (accounts.adapter.SocialAccountAdapter.list_apps) and its
# tokens are never stored (SOCIALACCOUNT_STORE_TOKENS): admin pages adding either would change nothing.
IGNORED: tuple[type[models.Model], ...] = (SocialApp, SocialToken)
# A refused change of an e-mail address, an authenticator or a linked account named it by what was typed in the
# breadcrumb and title, as Django's own admins did before accounts/admin.py put them on the working copy.
ON_WORKING_COPY: tuple[type[models.Model], ...] = (EmailAddress, Authenticator, SocialAccount)


def fit(site: admin.AdminSite = admin.site) -> None:
    for model in IGNORED:
        if site.is_registered(model):
            site.unregister(model)
    for model in ON_WORKING_COPY:
        if not site.is_registered(model):
            continue
        registered = type(site.get_model_admin(model))
        if issubclass(registered, WorkingCopyAdmin):
            continue  # fitted already (a second call)
        site.unregister(model)
        site.register(model, type(registered.__name__, (WorkingCopyAdmin, registered), {"__module__": __name__}))
