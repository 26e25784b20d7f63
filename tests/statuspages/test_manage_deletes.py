"""Deleting a status page or one of its items asks first: a GET says what goes, only that page's POST deletes,
and only the page's team admins reach either (a reader 403, anyone else 404)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import DatabaseError
from django.test import Client

from accounts.models import AuditEvent, Role
from alerts.models import Silence
from statuspages.models import Component, Incident, IncidentUpdate, MaintenanceWindow, StatusPage
from tests.factories import (
    add_member,
    make_component,
    make_incident,
    make_maintenance,
    make_source,
    make_status_page,
    make_team,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> Any:
    return make_team("blue")


@pytest.fixture
def page(team: Any) -> StatusPage:
    """A page with something of every kind: two components (one over a source), an incident of two updates
    naming the first, and an upcoming maintenance window of it (which silences its source)."""
    page = make_status_page("blue", team=team, title="Blue status", custom_host="status.blue.example")
    api = make_component(page, "API", [make_source("api-1", team=team)])
    make_component(page, "Web")
    make_incident(page, "Checkout errors", (("investigating", "Looking."), ("monitoring", "Fixed.")), [api])
    make_maintenance(page, "Database upgrade", components=[api])
    return page


def sign_in(client: Client, team: Any, role: str) -> None:
    user = make_user("ada")
    add_member(user, team, role)
    client.force_login(user)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found is not None, "the confirmation is a form with the CSRF token"
    return found.group(1)


def test_it_asks_before_deleting_a_page_and_says_what_goes(client: Client, team: Any, page: StatusPage) -> None:
    # One click on "Delete this page" deleted the public address, its host, feeds, badges and history.
    sign_in(client, team, Role.ADMIN)
    manage = client.get(f"/manage/status-pages/{page.pk}/").content.decode()
    assert f'href="/manage/status-pages/{page.pk}/delete/"' in manage
    assert f'action="/manage/status-pages/{page.pk}/delete/"' not in manage, "no one-click delete button"

    asked = client.get(f"/manage/status-pages/{page.pk}/delete/")
    assert asked.status_code == 200
    html = asked.content.decode()
    for said in (
        "<code>/status/blue/</code>",
        "<code>status.blue.example</code>",
        "feeds",
        "badges",
        "2 components",
        "1 incident with 2 timeline updates",
        "1 maintenance window",
        "1 alert silence",
        'name="confirm_slug"',
    ):
        assert said in html, said
    assert StatusPage.objects.filter(pk=page.pk).exists(), "asking deletes nothing"

    for typed in ("", "blu", "Blue status"):
        refused = client.post(f"/manage/status-pages/{page.pk}/delete/", {"confirm_slug": typed})
        assert refused.status_code == 400, typed
        assert "type blue to confirm" in refused.content.decode(), typed
        assert StatusPage.objects.filter(pk=page.pk).exists(), typed

    done = client.post(f"/manage/status-pages/{page.pk}/delete/", {"confirm_slug": "blue"})
    assert done.status_code == 302
    assert done["Location"] == "/manage/status-pages/"
    assert not StatusPage.objects.filter(pk=page.pk).exists()
    assert not Component.objects.exists()
    assert not Incident.objects.exists()
    assert not IncidentUpdate.objects.exists()
    assert not MaintenanceWindow.objects.exists()
    assert not Silence.objects.exists(), "the window's silence went with it"
    assert AuditEvent.objects.filter(action="statuspages.page.deleted", object_id=str(page.pk)).exists()
    assert Client().get("/status/blue/").status_code == 404


def test_it_deletes_a_page_only_with_the_confirmation_pages_csrf_token(team: Any, page: StatusPage) -> None:
    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, team, Role.ADMIN)
    token = csrf_token(browser.get(f"/manage/status-pages/{page.pk}/delete/").content.decode())
    assert browser.post(f"/manage/status-pages/{page.pk}/delete/", {"confirm_slug": "blue"}).status_code == 403
    assert StatusPage.objects.filter(pk=page.pk).exists()
    confirmed = {"confirm_slug": "blue", "csrfmiddlewaretoken": token}
    assert browser.post(f"/manage/status-pages/{page.pk}/delete/", confirmed).status_code == 302
    assert not StatusPage.objects.filter(pk=page.pk).exists()


# Who may not delete, asked or not: the page's readers and operators (403), another team's admin (404: the page's
# existence is not confirmed), the anonymous (to the login page).
REFUSED = [("viewer", 403), ("operator", 403), ("stranger", 404), ("anonymous", 302)]


def as_visitor(client: Client, team: Any, who: str) -> None:
    if who == "anonymous":
        return
    if who == "stranger":
        sign_in(client, make_team("red"), Role.ADMIN)
        return
    sign_in(client, team, {"viewer": Role.VIEWER, "operator": Role.OPERATOR}[who])


@pytest.mark.parametrize(("who", "status"), REFUSED)
def test_it_lets_only_the_pages_admins_delete_it(
    client: Client, team: Any, page: StatusPage, who: str, status: int
) -> None:
    as_visitor(client, team, who)
    url = f"/manage/status-pages/{page.pk}/delete/"
    assert client.get(url).status_code == status
    assert client.post(url, {"confirm_slug": "blue"}).status_code == status
    assert StatusPage.objects.filter(pk=page.pk).exists()


def items(page: StatusPage) -> dict[str, tuple[str, Any]]:
    """kind -> (its URL part, the item of ``page``)."""
    return {
        "component": ("components", page.components.get(name="API")),
        "incident": ("incidents", page.incidents.get()),
        "maintenance": ("maintenance", page.maintenance_windows.get()),
    }


# What each confirmation says goes with the item.
SAID = {
    "component": ("Delete the component API", "badges answer 404", "1 incident and 1 maintenance window"),
    "incident": ("Delete the incident Checkout errors", "2 timeline updates", "history"),
    "maintenance": ("Delete the maintenance window Database upgrade", "alert silences end now"),
}


@pytest.mark.parametrize("kind", sorted(SAID))
def test_it_asks_before_deleting_an_item_and_says_what_goes(
    client: Client, team: Any, page: StatusPage, kind: str
) -> None:
    # Each item's Delete button deleted it at once: an incident with its timeline, a window with its silences.
    sign_in(client, team, Role.ADMIN)
    part, item = items(page)[kind]
    edit = client.get(f"/manage/status-pages/{page.pk}/{part}/{item.pk}/").content.decode()
    url = f"/manage/status-pages/{page.pk}/{part}/{item.pk}/delete/"
    assert f'href="{url}"' in edit
    assert f'action="{url}"' not in edit, "no one-click delete button"

    asked = client.get(url)
    assert asked.status_code == 200
    for said in SAID[kind]:
        assert said in asked.content.decode(), said
    refused = client.post(url)  # a delete button of an older page, or a crafted form: asked again
    assert refused.status_code == 400
    assert type(item).objects.filter(pk=item.pk).exists()

    done = client.post(url, {"confirm": "delete"})
    assert done.status_code == 302
    assert done["Location"] == f"/manage/status-pages/{page.pk}/"
    assert not type(item).objects.filter(pk=item.pk).exists()
    assert AuditEvent.objects.filter(action=f"statuspages.{kind}.deleted", object_id=str(item.pk)).exists()
    if kind == "maintenance":
        assert not Silence.objects.exists()


@pytest.mark.parametrize("kind", sorted(SAID))
@pytest.mark.parametrize(("who", "status"), REFUSED)
def test_it_lets_only_the_pages_admins_delete_its_items(
    client: Client, team: Any, page: StatusPage, kind: str, who: str, status: int
) -> None:
    as_visitor(client, team, who)
    part, item = items(page)[kind]
    url = f"/manage/status-pages/{page.pk}/{part}/{item.pk}/delete/"
    assert client.get(url).status_code == status
    assert client.post(url, {"confirm": "delete"}).status_code == status
    assert type(item).objects.filter(pk=item.pk).exists()


@pytest.mark.parametrize("kind", ["page", *sorted(SAID)])
def test_it_records_no_deletion_that_did_not_happen(
    team: Any, page: StatusPage, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(raise_request_exception=False)
    sign_in(client, team, Role.ADMIN)
    if kind == "page":
        model: Any = StatusPage
        url, posted = f"/manage/status-pages/{page.pk}/delete/", {"confirm_slug": "blue"}
    else:
        part, item = items(page)[kind]
        model = type(item)
        url, posted = f"/manage/status-pages/{page.pk}/{part}/{item.pk}/delete/", {"confirm": "delete"}

    def fails(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("the delete failed")

    monkeypatch.setattr(model, "delete", fails)
    assert client.post(url, posted).status_code == 500
    assert not AuditEvent.objects.filter(action__endswith=".deleted").exists()
