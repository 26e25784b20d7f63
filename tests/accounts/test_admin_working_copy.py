"""The Django admin names an object as stored around a change it refuses
(``devops_insights.working_copy.WorkingCopyAdmin``): its form wrote the typed name onto the object the breadcrumb,
the title and the heading name."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory

from devops_insights.working_copy import WorkingCopyAdmin
from metrics.lifecycle.models import RetentionPolicy
from tests.factories import make_channel, make_rule, make_source, make_status_page, make_team, make_user

pytestmark = pytest.mark.django_db

# model: (its admin's path, a stored one, a change the admin refuses that renames it to "Renamed")
REFUSED_CHANGES: dict[str, tuple[str, Callable[[], Any], dict[str, str]]] = {
    "source": ("pollers/source", lambda: make_source("blue-api", name="Blue API"), {"name": "Renamed"}),
    "alert rule": ("alerts/alertrule", lambda: make_rule("cpu high"), {"name": "Renamed"}),
    "channel": ("alerts/notificationchannel", lambda: make_channel("ops-mail"), {"name": "Renamed"}),
    "status page": ("statuspages/statuspage", lambda: make_status_page("blue"), {"title": "Renamed"}),
    "team": ("accounts/team", lambda: make_team("payments"), {"name": "Renamed", "slug": ""}),
    # Django's own admins, fitted by accounts.library_admins: refused for the dates left out, a permission unknown.
    "user": ("auth/user", lambda: make_user("ada"), {"username": "Renamed"}),
    "group": ("auth/group", lambda: Group.objects.create(name="ops"), {"name": "Renamed", "permissions": "0"}),
    # allauth's, fitted by accounts.library_admins: refused for the user left out.
    "email address": (
        "account/emailaddress",
        lambda: make_email_address("ada@example.com"),
        {"email": "Renamed@example.com"},
    ),
}


def make_email_address(email: str) -> EmailAddress:
    return EmailAddress.objects.create(user=make_user("ada"), email=email, verified=True, primary=True)


def part(pattern: str, page: str) -> str:
    found = re.search(pattern, page, re.S)
    assert found is not None, pattern
    return html.unescape(found.group(1))


def assert_named_as_stored(page: str, name: str, typed: str) -> None:
    assert "Please correct the error" in page, "refused"
    breadcrumbs = part(r'<div class="breadcrumbs">(.*?)</div>', page)
    title = part(r"<title>(.*?)</title>", page)
    for shown in (breadcrumbs, title):
        assert name in shown
        assert typed not in shown, "the typed name, which was not saved"


@pytest.mark.parametrize("model", sorted(REFUSED_CHANGES))
def test_it_names_the_object_as_stored_around_a_change_it_refuses(client: Client, settings: Any, model: str) -> None:
    settings.REQUIRE_MFA_FOR_STAFF = False
    client.force_login(make_user("root", superuser=True))
    path, make, data = REFUSED_CHANGES[model]
    obj = make()
    name = str(obj)

    response = client.post(f"/admin/{path}/{obj.pk}/change/", data)

    page = response.content.decode()
    assert response.status_code == 200  # the admin's own answer to a refused change
    assert_named_as_stored(page, name, "Renamed")
    typed = next(value for value in data.values() if "Renamed" in value)
    assert f'value="{typed}"' in page, "what was typed stays in the form"
    obj.refresh_from_db()
    assert str(obj) == name


def test_it_names_a_retention_policy_as_stored_around_a_change_it_refuses(client: Client, settings: Any) -> None:
    # A policy is named by its source: moving it to another one, with tiers kept shorter than the one below
    # them, is refused and leaves it "retention for blue-api", not the source chosen.
    settings.REQUIRE_MFA_FOR_STAFF = False
    client.force_login(make_user("root", superuser=True))
    policy = RetentionPolicy.objects.create(source=make_source("blue-api"))
    other = make_source("red-api")
    data = {"source": str(other.pk), "raw_days": "7", "minute_days": "30", "hour_days": "1"}

    response = client.post(f"/admin/metrics/retentionpolicy/{policy.pk}/change/", data)

    page = response.content.decode()
    assert response.status_code == 200
    assert_named_as_stored(page, "retention for blue-api", "red-api")
    assert re.search(rf'<option value="{other.pk}" selected>', page), "what was chosen stays in the form"
    policy.refresh_from_db()
    assert policy.source_id != other.pk


def test_it_puts_every_admin_that_changes_objects_on_a_working_copy() -> None:
    request = RequestFactory().get("/admin/")
    request.user = make_user("root", superuser=True)
    changing = {
        model._meta.label: model_admin
        for model, model_admin in admin.site._registry.items()
        if model_admin.has_change_permission(request) or model_admin.has_add_permission(request)
    }
    assert {"auth.User", "metrics.RetentionPolicy", "pollers.Source"} <= set(changing)
    plain = sorted(label for label, model_admin in changing.items() if not isinstance(model_admin, WorkingCopyAdmin))
    assert plain == []  # allauth's too (accounts/library_admins.py)
