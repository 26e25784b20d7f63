"""A component's name and a maintenance window's title are unique on their page: the management pages and
the admin say so as a validation error (the management forms have no page field: the page is the one
being managed), rather than failing on the database's constraint."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from statuspages.models import Component, MaintenanceWindow
from tests.factories import (
    PASSWORD,
    add_member,
    make_component,
    make_maintenance,
    make_status_page,
    make_team,
    make_user,
)

pytestmark = pytest.mark.django_db

WINDOW = {"starts_at": "2030-12-10T01:00", "ends_at": "2030-12-10T02:00"}


@pytest.fixture
def page(client: Client) -> Any:
    team = make_team("blue")
    user = make_user("ada")
    add_member(user, team, Role.ADMIN)
    client.force_login(user)
    return make_status_page("blue", team=team)


def test_it_refuses_a_second_component_of_one_name_on_the_page(client: Client, page: Any) -> None:
    api = make_component(page, "API")
    make_component(page, "Web")
    make_component(make_status_page("other", team=page.team), "API")  # another page's: no obstacle
    base = f"/manage/status-pages/{page.pk}/components"

    refused = client.post(f"{base}/new/", {"name": "API", "order": 1})
    assert refused.status_code == 400  # the form again, with the error
    assert "The page already has a component with this name." in refused.content.decode()
    assert Component.objects.filter(page=page, name="API").count() == 1

    renamed = client.post(f"{base}/{api.pk}/", {"name": "Web", "order": 1})
    assert "The page already has a component with this name." in renamed.content.decode()
    api.refresh_from_db()
    assert api.name == "API"

    assert client.post(f"{base}/{api.pk}/", {"name": "API", "order": 2}).status_code == 302
    assert client.post(f"{base}/new/", {"name": "API v2", "order": 3}).status_code == 302


def test_it_refuses_a_second_maintenance_window_of_one_title_on_the_page(client: Client, page: Any) -> None:
    upgrade = make_maintenance(page, "Database upgrade")
    make_maintenance(page, "Network work")
    base = f"/manage/status-pages/{page.pk}/maintenance"

    refused = client.post(f"{base}/new/", {"title": "Database upgrade", **WINDOW})
    assert refused.status_code == 400
    assert "The page already has a maintenance window with this title." in refused.content.decode()
    assert MaintenanceWindow.objects.filter(page=page, title="Database upgrade").count() == 1

    renamed = client.post(f"{base}/{upgrade.pk}/", {"title": "Network work", **WINDOW})
    assert "The page already has a maintenance window with this title." in renamed.content.decode()

    assert client.post(f"{base}/{upgrade.pk}/", {"title": "Database upgrade", **WINDOW}).status_code == 302
    assert client.post(f"{base}/new/", {"title": "Database upgrade, March", **WINDOW}).status_code == 302


def test_it_refuses_duplicates_in_the_admin_too(client: Client) -> None:
    make_user("root", superuser=True)
    client.login(username="root", password=PASSWORD)
    page = make_status_page("blue")
    make_component(page, "API")
    make_maintenance(page, "Database upgrade")

    added = client.post("/admin/statuspages/component/add/", {"page": page.pk, "name": "API", "order": 0})
    assert added.status_code == 200
    assert "The page already has a component with this name." in added.content.decode()
    window = {"page": page.pk, "title": "Database upgrade", "starts_at_0": "2030-12-10", "starts_at_1": "01:00"}
    window |= {"ends_at_0": "2030-12-10", "ends_at_1": "02:00"}
    added = client.post("/admin/statuspages/maintenancewindow/add/", window)
    assert added.status_code == 200
    assert "The page already has a maintenance window with this title." in added.content.decode()

    # The page's inline components: a new row named like a stored one is refused with the page's form.
    existing = Component.objects.get()
    inline = {
        "team": page.team_id,
        "title": page.title,
        "slug": page.slug,
        "visibility": page.visibility,
        "published": "on",
        "components-TOTAL_FORMS": "2",
        "components-INITIAL_FORMS": "1",
        "components-0-id": existing.pk,
        "components-0-page": page.pk,
        "components-0-name": "API",
        "components-0-order": "0",
        "components-0-published": "on",
        "components-1-page": page.pk,
        "components-1-name": "API",
        "components-1-order": "1",
        "components-1-published": "on",
    }
    changed = client.post(f"/admin/statuspages/statuspage/{page.pk}/change/", inline)
    assert changed.status_code == 200
    assert "Please correct the duplicate data" in changed.content.decode()
    assert Component.objects.count() == 1
