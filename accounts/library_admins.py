"""The admins the libraries register (Django's users and groups, django-allauth's), made to fit the product:
allauth's provider apps and tokens left out, the rest on a working copy, with everything else of theirs unchanged.

allauth's admin modules are imported by the admin's autodiscovery after this app's (it comes later in
``INSTALLED_APPS``), so this runs from ``AccountsConfig.ready``, once every admin is registered.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import models

from devops_insights.working_copy import WorkingCopyAdmin

# Single sign-on is configured from the environment alone (accounts.adapter.SocialAccountAdapter.list_apps) and its
# tokens are never stored (SOCIALACCOUNT_STORE_TOKENS): admin pages adding either would change nothing.
IGNORED: tuple[type[models.Model], ...] = (SocialApp, SocialToken)
# A refused change (a user name or group name taken, an e-mail address, an authenticator, a linked account) named
# the object by what was typed in the breadcrumb and title.
ON_WORKING_COPY: tuple[type[models.Model], ...] = (User, Group, EmailAddress, Authenticator, SocialAccount)


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
