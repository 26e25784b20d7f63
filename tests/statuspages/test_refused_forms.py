"""Every refused form of the status page management pages answers 400 with its error, as the source and alert
forms do (accounts.refused_forms), and stores or changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from statuspages.models import Component, Incident, IncidentUpdate, MaintenanceWindow, StatusPage
from tests.factories import (
    add_member,
    make_component,
    make_incident,
    make_maintenance,
    make_status_page,
    make_team,
    make_user,
)

pytestmark = pytest.mark.django_db

INCIDENT = {"impact": "minor", "status": "investigating", "started_at": "2026-12-01T10:00"}
WINDOW = {"starts_at": "2030-12-10T02:00", "ends_at": "2030-12-10T01:00"}  # ends before it starts

# form kind: (its address, given the page and its stored items; a post it refuses; the error it shows)
REFUSED: dict[str, tuple[Callable[[Any, dict[str, Any]], str], dict[str, Any], str]] = {
    "new page": (
        lambda page, items: "/manage/status-pages/new/",
        {"title": "Red status", "slug": "blue", "visibility": "public"},  # the slug is the other page's
        "already exists",
    ),
    "page settings": (
        lambda page, items: f"/manage/status-pages/{page.pk}/",
        {"title": "Renamed", "slug": "", "visibility": "public"},
        "This field is required.",
    ),
    "new component": (
        lambda page, items: f"/manage/status-pages/{page.pk}/components/new/",
        {"name": "API", "order": 1},  # the page has one of that name
        "The page already has a component with this name.",
    ),
    "component": (
        lambda page, items: f"/manage/status-pages/{page.pk}/components/{items['component'].pk}/",
        {"name": "Renamed", "order": "x"},
        "Enter a whole number.",
    ),
    "new incident": (
        lambda page, items: f"/manage/status-pages/{page.pk}/incidents/new/",
        {"title": "", **INCIDENT},
        "This field is required.",
    ),
    "incident": (
        lambda page, items: f"/manage/status-pages/{page.pk}/incidents/{items['incident'].pk}/",
        {"title": "Renamed", **INCIDENT, "impact": "apocalyptic"},
        "Select a valid choice.",
    ),
    "incident update": (
        lambda page, items: f"/manage/status-pages/{page.pk}/incidents/{items['incident'].pk}/updates/",
        {"status": "monitoring", "body": ""},
        "This field is required.",
    ),
    "new maintenance window": (
        lambda page, items: f"/manage/status-pages/{page.pk}/maintenance/new/",
        {"title": "Network work", **WINDOW},
        "The end must come after the start.",
    ),
    "maintenance window": (
        lambda page, items: f"/manage/status-pages/{page.pk}/maintenance/{items['maintenance'].pk}/",
        {"title": "Renamed", **WINDOW},
        "The end must come after the start.",
    ),
}


def stored() -> list[list[dict[str, Any]]]:
    """Every row of every model these forms write, as stored."""
    models = (StatusPage, Component, Incident, IncidentUpdate, MaintenanceWindow)
    return [list(model.objects.order_by("pk").values()) for model in models]


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_it_answers_400_with_the_error_and_stores_nothing(client: Client, kind: str) -> None:
    team = make_team("blue")
    page = make_status_page("blue", team=team, title="Blue status")
    items = {
        "component": make_component(page, "API"),
        "incident": make_incident(page, "Checkout errors"),
        "maintenance": make_maintenance(page, "Database upgrade"),
    }
    admin = make_user("ada")
    add_member(admin, team, Role.ADMIN)
    client.force_login(admin)
    address, data, error = REFUSED[kind]
    if kind == "new page":
        data = {**data, "team": team.pk}
    before = stored()

    response = client.post(address(page, items), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert stored() == before, "a refused form stored or changed nothing"
