"""The management pages: team admins create and run status pages; others may look or not even that."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import AuditEvent, Role
from alerts.models import Silence
from statuspages.models import Component, Incident, IncidentStatus, MaintenanceWindow, StatusPage, Visibility
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

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team() -> Any:
    return make_team("blue")


def member(client: Client, team: Any, role: str, name: str = "ada") -> Any:
    user = make_user(name)
    add_member(user, team, role)
    client.force_login(user)
    return user


def test_it_sends_the_anonymous_to_log_in(client: Client, team: Any) -> None:
    page = make_status_page(team=team)
    for url in ("/manage/status-pages/", f"/manage/status-pages/{page.pk}/", "/manage/status-pages/new/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/accounts/login/")


def test_it_lets_readers_look_but_not_change(client: Client, team: Any) -> None:
    page = make_status_page(team=team, title="Blue status")
    member(client, team, Role.VIEWER)
    listing = client.get("/manage/status-pages/")
    assert listing.status_code == 200
    assert "Blue status" in listing.content.decode()
    assert "New status page" not in listing.content.decode()
    assert client.get(f"/manage/status-pages/{page.pk}/").status_code == 403
    assert client.get("/manage/status-pages/new/").status_code == 403
    assert client.post(f"/manage/status-pages/{page.pk}/delete/").status_code == 403
    assert StatusPage.objects.filter(pk=page.pk).exists()


def test_it_hides_another_teams_page(client: Client, team: Any) -> None:
    page = make_status_page(team=team, title="Blue status")
    member(client, make_team("red"), Role.ADMIN)
    assert "Blue status" not in client.get("/manage/status-pages/").content.decode()
    assert client.get(f"/manage/status-pages/{page.pk}/").status_code == 404
    assert client.get(f"/manage/status-pages/{page.pk}/components/new/").status_code == 404


def test_it_links_the_management_pages_from_the_navigation(client: Client, team: Any) -> None:
    member(client, team, Role.VIEWER)
    assert 'href="/manage/status-pages/"' in client.get("/manage/status-pages/").content.decode()


def test_an_admin_publishes_a_page_with_a_component_an_incident_and_maintenance(client: Client, team: Any) -> None:
    member(client, team, Role.ADMIN)
    api = make_source("api-1", team=team)
    other_team_source = make_source("red-1", team=make_team("red"))

    created = client.post(
        "/manage/status-pages/new/",
        {"team": team.pk, "title": "Blue status", "slug": "blue", "visibility": "public", "published": "on"},
    )
    assert created.status_code == 302
    page = StatusPage.objects.get(slug="blue")
    base = f"/manage/status-pages/{page.pk}"

    refused = client.post(f"{base}/components/new/", {"name": "API", "sources": [other_team_source.pk], "order": 1})
    assert refused.status_code == 400  # the form again: another team's source is not a choice
    assert not Component.objects.exists()
    assert client.post(f"{base}/components/new/", {"name": "API", "sources": [api.pk], "order": 1}).status_code == 302
    component = Component.objects.get()

    opened = client.post(
        f"{base}/incidents/new/",
        {
            "title": "Errors on checkout",
            "impact": "major",
            "status": "investigating",
            "components": [component.pk],
            "started_at": "2026-11-30T10:00",
            "first_update": "We are *looking* into it.",
        },
    )
    assert opened.status_code == 302
    incident = Incident.objects.get()
    assert incident.updates.get().body == "We are *looking* into it."
    client.post(f"{base}/incidents/{incident.pk}/updates/", {"status": "resolved", "body": "Fixed."})
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolved_at is not None

    scheduled = client.post(
        f"{base}/maintenance/new/",
        {
            "title": "DB upgrade",
            "components": [component.pk],
            "starts_at": "2026-12-10T01:00",
            "ends_at": "2026-12-10T02:00",
        },
    )
    assert scheduled.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert [s.source for s in Silence.objects.filter(maintenance_windows=window)] == [api]

    public = client.get("/status/blue/").content.decode()
    assert "Errors on checkout" in public
    assert "<em>looking</em>" in public
    assert "DB upgrade" in public
    assert AuditEvent.objects.filter(action__startswith="statuspages.").count() >= 5


def test_it_keeps_a_resolved_incident_on_the_page_when_the_form_resolves_it(client: Client, team: Any) -> None:
    # Resolving through the incident form (not a timeline update) used to leave resolved_at empty: the
    # incident was then neither open nor "resolved in the last 14 days", and vanished from the public page.
    member(client, team, Role.ADMIN)
    page = make_status_page(team=team)
    incident = make_incident(page, "Checkout errors")
    started = incident.started_at.strftime("%Y-%m-%dT%H:%M")
    url = f"/manage/status-pages/{page.pk}/incidents/{incident.pk}/"
    fields = {"title": "Checkout errors", "impact": "minor", "started_at": started}

    assert client.post(url, {**fields, "status": "resolved"}).status_code == 302

    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolved_at is not None
    assert "Checkout errors" in Client().get("/status/acme/").content.decode()
    # And an open incident cannot carry a resolved time (it would read as resolved in the v2 JSON).
    resolved = incident.resolved_at.strftime("%Y-%m-%dT%H:%M")
    refused = client.post(url, {**fields, "status": "monitoring", "resolved_at": resolved})
    assert refused.status_code == 400
    assert "Only a resolved incident has a resolved time" in refused.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_it_requires_a_password_for_a_password_page_and_keeps_only_its_hash(client: Client, team: Any) -> None:
    member(client, team, Role.ADMIN)
    data = {"team": team.pk, "title": "Blue", "slug": "blue", "visibility": Visibility.PASSWORD}
    assert client.post("/manage/status-pages/new/", data).status_code == 400
    assert not StatusPage.objects.exists()
    client.post("/manage/status-pages/new/", {**data, "new_password": "correct horse 1"})
    page = StatusPage.objects.get()
    assert page.password_hash.startswith(("pbkdf2_", "argon2", "bcrypt", "scrypt"))
    assert "correct horse 1" not in page.password_hash
    assert page.check_password("correct horse 1")


def test_it_refuses_a_members_page_on_a_custom_host(client: Client, team: Any) -> None:
    member(client, team, Role.ADMIN)
    data = {
        "team": team.pk,
        "title": "Blue",
        "slug": "blue",
        "visibility": "members",
        "custom_host": "status.blue.example",
    }
    response = client.post("/manage/status-pages/new/", data)
    assert response.status_code == 400
    assert "cannot have a custom host" in response.content.decode()


def test_it_refuses_the_products_own_host_name_as_a_custom_host(client: Client, team: Any, settings: Any) -> None:
    """Served from the page's URLs alone, the product's own name would have put one team's page in place of the
    sign-in, the dashboards, the API and the admin of every team."""
    settings.SITE_URL = "https://insights.example.com/"
    settings.CSRF_TRUSTED_ORIGINS = ["https://dash.example.com", "https://*.example.org"]
    member(client, team, Role.ADMIN)
    data = {"team": team.pk, "title": "Blue", "slug": "blue", "visibility": "public", "published": "on"}
    for own in ("insights.example.com", "dash.example.com"):
        response = client.post("/manage/status-pages/new/", {**data, "custom_host": own})
        assert response.status_code == 400, own
        assert "the product&#x27;s own host name" in response.content.decode(), own
        assert not StatusPage.objects.exists()
    # A page of its own name is fine, a subdomain a wildcard origin trusts included.
    for name in ("status.blue.example", "status.example.org"):
        slug = name.split(".")[1]
        response = client.post("/manage/status-pages/new/", {**data, "slug": slug, "custom_host": name})
        assert response.status_code == 302, name
        assert StatusPage.objects.get(slug=slug).custom_host == name


def test_it_refuses_a_custom_host_until_site_url_names_the_products_own(
    client: Client, team: Any, settings: Any
) -> None:
    settings.SITE_URL = ""
    member(client, team, Role.ADMIN)
    data = {"team": team.pk, "title": "Blue", "slug": "blue", "visibility": "public"}
    data["custom_host"] = "insights.example.com"
    response = client.post("/manage/status-pages/new/", data)
    assert response.status_code == 400
    assert "Set SITE_URL" in response.content.decode()
    assert not StatusPage.objects.exists()
    assert client.post("/manage/status-pages/new/", {**data, "custom_host": ""}).status_code == 302


def test_it_refuses_a_logo_whose_host_is_not_a_plain_name(client: Client, team: Any) -> None:
    member(client, team, Role.ADMIN)
    data = {"team": team.pk, "title": "Blue", "slug": "blue", "visibility": "public"}
    for logo in ("https://cdn.example;report-uri https:\\evil.example/x.png", "https://cdn example/x.png"):
        response = client.post("/manage/status-pages/new/", {**data, "logo": logo})
        assert response.status_code == 400, logo
        assert "whose host is a plain name" in response.content.decode(), logo
        assert not StatusPage.objects.exists()
    assert client.post("/manage/status-pages/new/", {**data, "logo": "https://cdn.example/x.png"}).status_code == 302


def test_an_admin_deletes_a_window_and_its_silences_go_too(client: Client, team: Any) -> None:
    member(client, team, Role.ADMIN)
    page = make_status_page(team=team)
    component = make_component(page, "API", [make_source("api-1", team=team)])
    client.post(
        f"/manage/status-pages/{page.pk}/maintenance/new/",
        {"title": "Swap", "components": [component.pk], "starts_at": "2026-12-10T01:00", "ends_at": "2026-12-10T02:00"},
    )
    window = MaintenanceWindow.objects.get()
    assert Silence.objects.count() == 1
    deleted = client.post(f"/manage/status-pages/{page.pk}/maintenance/{window.pk}/delete/", {"confirm": "delete"})
    assert deleted.status_code == 302
    assert not Silence.objects.exists()


def staff_admin_of(client: Client, settings: Any, *teams: Any, superuser: bool = False) -> Any:
    """Log ``client`` in to the Django admin as a staff user (no second factor asked) administering ``teams``."""
    settings.REQUIRE_MFA_FOR_STAFF = False
    user = make_user("ada", staff=True, superuser=superuser, password=None)
    for team in teams:
        add_member(user, team, Role.ADMIN)
    client.force_login(user)
    return user


def test_it_keeps_a_team_admin_in_the_django_admin_to_their_own_pages_components(
    client: Client, team: Any, settings: Any
) -> None:
    # The admin scoped only choices of models with a team field; a component has none (its page has), so a
    # staff admin of blue was offered every team's components and could put red's in blue's maintenance
    # window: silences on red's sources, muting red's alerts.
    red = make_team("red")
    staff_admin_of(client, settings, team)
    blue_page = make_status_page("blue-page", team=team)
    make_component(blue_page, "Blue API")
    red_page = make_status_page("red-page", team=red)
    red_part = make_component(red_page, "Red Vault", [make_source("red-db", team=red)])
    make_incident(blue_page, "Blue outage")
    make_incident(red_page, "Red outage")
    for url in ("/admin/statuspages/maintenancewindow/add/", "/admin/statuspages/incident/add/"):
        html = client.get(url).content.decode()
        assert "Blue API" in html, url
        assert "Red Vault" not in html, url
    for url in ("/admin/statuspages/incident/", "/admin/statuspages/component/"):
        html = client.get(url).content.decode()
        assert "Blue Page status" in html, url  # the page filter offers blue's page
        assert "Red Page status" not in html, url
    posted = client.post(
        "/admin/statuspages/maintenancewindow/add/",
        {
            "page": blue_page.pk,
            "title": "Upgrade",
            "components": [red_part.pk],
            "starts_at_0": "2030-01-01",
            "starts_at_1": "00:00:00",
            "ends_at_0": "2030-01-02",
            "ends_at_1": "00:00:00",
        },
    )
    assert posted.status_code == 200  # the form again, with its error
    assert not MaintenanceWindow.objects.exists()
    assert not Silence.objects.exists()


@pytest.mark.parametrize("superuser", [False, True])
def test_it_refuses_in_the_django_admin_a_component_grouping_another_teams_source(
    client: Client, team: Any, settings: Any, superuser: bool
) -> None:
    # Source choices were scoped to the teams the user manages, not to the component's page's team, so an admin
    # of blue and red (or a superuser) could put red's source on blue's page: blue's visitors saw red's state.
    red = make_team("red")
    staff_admin_of(client, settings, team, red, superuser=superuser)
    blue_page = make_status_page("blue-page", team=team)
    blue_db = make_source("blue-db", team=team)
    red_db = make_source("red-db", team=red)
    part = make_component(blue_page, "Blue API", [blue_db])
    fields = {"page": blue_page.pk, "name": "Blue API", "order": 0, "published": "on", "show_metric": ""}

    changed = client.post(f"/admin/statuspages/component/{part.pk}/change/", {**fields, "sources": [red_db.pk]})
    added = client.post(
        "/admin/statuspages/component/add/", {**fields, "name": "DB", "sources": [blue_db.pk, red_db.pk]}
    )

    for answer in (changed, added):
        assert answer.status_code == 200  # the form again, with its error
        assert answer.context["adminform"].form.errors["sources"] == ["Choose sources of the page's team only."]
    assert list(part.sources.all()) == [blue_db]
    assert list(Component.objects.values_list("name", flat=True)) == ["Blue API"]
    # The page's own team's sources are still accepted.
    assert (
        client.post("/admin/statuspages/component/add/", {**fields, "name": "DB", "sources": [blue_db.pk]}).status_code
        == 302
    )


def test_it_refuses_in_the_django_admin_to_move_a_page_whose_components_group_its_teams_sources(
    client: Client, team: Any, settings: Any
) -> None:
    # Moved to red, blue's page kept components grouping blue's sources: red's page showing blue's state.
    red = make_team("red")
    staff_admin_of(client, settings, team, red)
    page = make_status_page("blue-page", team=team)
    part = make_component(page, "Blue API", [make_source("blue-db", team=team)])
    fields = {"team": red.pk, "title": "Blue", "slug": "blue-page", "visibility": "public", "custom_host": ""}
    fields |= {"components-TOTAL_FORMS": "1", "components-INITIAL_FORMS": "1", "components-0-id": part.pk}
    fields |= {"components-0-page": page.pk, "components-0-name": "Blue API", "components-0-order": "0"}

    moved = client.post(f"/admin/statuspages/statuspage/{page.pk}/change/", fields)

    assert moved.status_code == 200  # the form again, with its error
    assert moved.context["adminform"].form.errors["team"] == [
        "Its components group sources of Blue: take those off the components first."
    ]
    page.refresh_from_db()
    assert page.team == team
    part.sources.clear()
    assert client.post(f"/admin/statuspages/statuspage/{page.pk}/change/", fields).status_code == 302
    page.refresh_from_db()
    assert page.team == red


def test_it_shows_the_stored_title_and_address_beside_settings_it_refuses(client: Client, team: Any) -> None:
    # The refused form's values were shown as the page's own: the new title in the heading, and "View the page"
    # linking to the slug typed, here another page's.
    page = make_status_page("blue", team=team, title="Blue status")
    make_status_page("red", team=team, title="Red status")
    member(client, team, Role.ADMIN)
    response = client.post(
        f"/manage/status-pages/{page.pk}/",
        {"title": "Renamed", "slug": "red", "visibility": "public", "published": "on"},
    )
    html = response.content.decode()
    assert "already exists" in html
    assert "<h1>Blue status</h1>" in html
    assert '<a href="/status/blue/">View the page</a>' in html
    assert 'value="red"' in html, "what was typed stays in the form"
    page.refresh_from_db()
    assert (page.title, page.slug) == ("Blue status", "blue")


REFUSED_ITEM_EDITS = {
    # kind: (the URL part, what the heading says of the stored item, a refused post renaming it to "Renamed")
    "component": ("components", "Edit API", {"name": "Renamed", "order": "x"}),
    "incident": (
        "incidents",
        "Incident: Checkout errors",
        {"title": "Renamed", "impact": "minor", "status": "monitoring", "started_at": "2026-12-01T10:00"}
        | {"resolved_at": "2026-12-01T11:00"},
    ),
    "maintenance": (
        "maintenance",
        "Maintenance: Database upgrade",
        {"title": "Renamed", "starts_at": "2030-12-10T02:00", "ends_at": "2030-12-10T01:00"},
    ),
}


@pytest.mark.parametrize("kind", sorted(REFUSED_ITEM_EDITS))
def test_it_names_an_item_as_stored_around_an_edit_it_refuses(client: Client, team: Any, kind: str) -> None:
    # The form wrote what was typed onto the item the page is headed by: a refused rename read as done.
    page = make_status_page(team=team)
    items = {
        "component": lambda: make_component(page, "API"),
        "incident": lambda: make_incident(page, "Checkout errors"),
        "maintenance": lambda: make_maintenance(page, "Database upgrade"),
    }
    item = items[kind]()
    member(client, team, Role.ADMIN)
    part, heading, data = REFUSED_ITEM_EDITS[kind]
    url = f"/manage/status-pages/{page.pk}/{part}/{item.pk}/"
    response = client.post(url, data)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'class="error"' in html, "refused"
    assert f"<h1>{heading}</h1>" in html, "the heading said the name typed, which was not saved"
    assert f'<span aria-current="page">{heading}</span>' in html
    assert "Renamed" not in html.split("<form")[0], "nothing above the form names what was typed"
    assert 'value="Renamed"' in html, "what was typed stays in the form"
    item.refresh_from_db()
    assert str(item) != "Renamed"


def test_it_keeps_the_text_of_an_incident_update_it_refuses(client: Client, team: Any) -> None:
    # A refused update answered a redirect to the incident: the text typed was gone.
    page = make_status_page(team=team)
    incident = make_incident(page, "Checkout errors")
    member(client, team, Role.ADMIN)
    url = f"/manage/status-pages/{page.pk}/incidents/{incident.pk}/updates/"
    response = client.post(url, {"status": "fixed-ish", "body": "We *think* it is fixed."})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Select a valid choice" in html
    assert "We *think* it is fixed.</textarea>" in html, "the text typed is kept"
    # The incident's own form on that page still posts to the incident, not to the update's address.
    assert f'action="/manage/status-pages/{page.pk}/incidents/{incident.pk}/"' in html
    assert "<h1>Incident: Checkout errors</h1>" in html
    assert not incident.updates.filter(body__startswith="We *think*").exists()

    emptied = client.post(url, {"status": "monitoring", "body": ""})
    assert emptied.status_code == 400
    assert "This field is required." in emptied.content.decode()


def test_it_chooses_the_current_team_on_a_new_page_form(client: Client, team: Any) -> None:
    # A one-team admin had to pick their only team from a blank list, or the form came back refused.
    member(client, team, Role.ADMIN)
    other = make_team("green")
    page = client.get("/manage/status-pages/new/").content.decode()
    assert f'<option value="{team.pk}" selected>' in page
    add_member(make_user("bo"), other, Role.ADMIN)
    user = make_user("cy")
    add_member(user, team, Role.VIEWER)
    add_member(user, other, Role.ADMIN)
    client.force_login(user)  # works in blue, where they may not make pages: nothing is chosen for them
    page = client.get("/manage/status-pages/new/").content.decode()
    assert '<option value="" selected>' in page


def test_it_puts_a_new_component_after_the_last_one(client: Client, team: Any) -> None:
    # Every new component started at order 0, so a page listed them by name, not in the order they were added.
    member(client, team, Role.ADMIN)
    page = make_status_page(team=team)
    url = f"/manage/status-pages/{page.pk}/components/new/"
    assert 'name="order" value="0"' in client.get(url).content.decode()
    make_component(page, "Europe", order=4)
    assert 'name="order" value="5"' in client.get(url).content.decode()
    client.post(url, {"name": "Americas", "order": "5", "published": "on"})
    assert [c.name for c in page.components.all()] == ["Europe", "Americas"]
