"""The Statuspage v2 JSON against the shapes documented in docs/status-pages.md (read from the doc itself)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from pollers.models import Source
from statuspages import generations
from statuspages.state import State
from tests.factories import make_component, make_incident, make_maintenance, make_source, make_status_page
from tests.paths import ROOT

pytestmark = pytest.mark.django_db

DOC = (ROOT / "docs" / "status-pages.md").read_text()
BLOCK = re.compile(r"<!-- v2-shape: (?P<name>[\w.-]+) -->\n```json\n(?P<body>.*?)\n```", re.S)
SHAPES: dict[str, Any] = {m["name"]: json.loads(m["body"]) for m in BLOCK.finditer(DOC)}
SUMMARY = SHAPES["summary.json"]
# Placeholders of the short blocks, resolved to the summary's objects (longest prefix first).
PLACEHOLDERS = [
    ("<an incident update", SUMMARY["incidents"][0]["incident_updates"][0]),
    ("<an incident", SUMMARY["incidents"][0]),
    ("<a scheduled maintenance", SUMMARY["scheduled_maintenances"][0]),
    ("<a component", SUMMARY["components"][0]),
    ("<page", SUMMARY["page"]),
    ("<status", SUMMARY["status"]),
]


def resolve(example: Any) -> Any:
    if isinstance(example, str) and example.startswith("<"):
        return next(resolve(shape) for prefix, shape in PLACEHOLDERS if example.startswith(prefix))
    if isinstance(example, dict):
        return {key: resolve(value) for key, value in example.items()}
    if isinstance(example, list):
        return [resolve(item) for item in example]
    return example


def assert_shape(example: Any, actual: Any, where: str = "$") -> None:
    example = resolve(example)
    if isinstance(example, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(example), f"{where}: keys {sorted(set(actual) ^ set(example))} differ"
        for key, value in example.items():
            assert_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), where
        for index, item in enumerate(actual):
            assert_shape(example[0], item, f"{where}[{index}]")
    elif example is None or isinstance(example, str):
        assert actual is None or isinstance(actual, str), f"{where}: {actual!r}"  # times and texts may be null
    else:
        assert type(actual) is type(example), f"{where}: {actual!r} is not like {example!r}"


@pytest.fixture
def page() -> Any:
    page = make_status_page("acme")
    fresh = timezone.now() - timedelta(seconds=5)
    up = make_source("eu-west", last_polled_at=fresh, last_success_at=fresh)
    down = make_source(
        "us-east", last_polled_at=fresh, last_success_at=fresh, consecutive_failures=3, last_error_at=fresh
    )
    api = make_component(page, "API", [up], order=1, description="Public REST API")
    web = make_component(page, "Web", [up, down], order=2)
    db = make_component(page, "Database", [up], order=3)
    make_incident(page, "Elevated errors", [("investigating", "Looking."), ("identified", "A bad **deploy**.")], [web])
    make_incident(page, "Old outage", [("investigating", "x"), ("resolved", "Fixed.")], [api])
    make_maintenance(page, "Upgrade", starts_in=-0.5, hours=1, components=[db], body="Planned *work*.")
    make_maintenance(page, "Later", starts_in=24, components=[api])
    return page


def get(client: Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def test_it_documents_every_endpoint_shape() -> None:
    assert set(SHAPES) == {
        "summary.json",
        "status.json",
        "components.json",
        "incidents.json",
        "scheduled-maintenances.json",
    }


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("summary.json", "summary.json"),
        ("status.json", "status.json"),
        ("components.json", "components.json"),
        ("incidents.json", "incidents.json"),
        ("incidents/unresolved.json", "incidents.json"),
        ("scheduled-maintenances.json", "scheduled-maintenances.json"),
        ("scheduled-maintenances/upcoming.json", "scheduled-maintenances.json"),
        ("scheduled-maintenances/active.json", "scheduled-maintenances.json"),
    ],
)
def test_it_answers_in_the_documented_shape(client: Client, page: Any, path: str, shape: str) -> None:
    body = get(client, f"/status/acme/api/v2/{path}")
    assert_shape(SHAPES[shape], body)
    assert body["page"]["id"] == "acme"
    assert body["page"]["url"] == "http://testserver/status/acme/"


def test_it_passes_the_state_rule_through(client: Client, page: Any) -> None:
    body = get(client, "/status/acme/api/v2/summary.json")
    statuses = {c["name"]: c["status"] for c in body["components"]}
    # Web has one of two sources down; Database is covered by the maintenance in progress.
    assert statuses == {"API": "operational", "Web": "partial_outage", "Database": "under_maintenance"}
    assert [c["position"] for c in body["components"]] == [1, 2, 3]
    assert body["status"] == {"indicator": "major", "description": "Partial outage"}
    assert {str(s) for s in State} >= set(statuses.values())


def test_it_lists_unresolved_incidents_in_the_summary_and_all_in_incidents(client: Client, page: Any) -> None:
    summary = get(client, "/status/acme/api/v2/summary.json")
    assert [i["name"] for i in summary["incidents"]] == ["Elevated errors"]
    incident = summary["incidents"][0]
    assert incident["status"] == "identified"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert incident["incident_updates"][0]["body"] == "A bad deploy."  # Markdown as plain text
    assert [c["name"] for c in incident["components"]] == ["Web"]
    every = get(client, "/status/acme/api/v2/incidents.json")
    assert {i["name"] for i in every["incidents"]} == {"Elevated errors", "Old outage"}
    resolved = next(i for i in every["incidents"] if i["name"] == "Old outage")
    assert resolved["status"] == "resolved"


def test_it_sorts_maintenance_by_phase(client: Client, page: Any) -> None:
    summary = get(client, "/status/acme/api/v2/summary.json")
    assert [(m["name"], m["status"]) for m in summary["scheduled_maintenances"]] == [
        ("Upgrade", "in_progress"),
        ("Later", "scheduled"),
    ]
    assert summary["scheduled_maintenances"][0]["incident_updates"][0]["body"] == "Planned work."
    active = get(client, "/status/acme/api/v2/scheduled-maintenances/active.json")
    assert [m["name"] for m in active["scheduled_maintenances"]] == ["Upgrade"]
    upcoming = get(client, "/status/acme/api/v2/scheduled-maintenances/upcoming.json")
    assert [m["name"] for m in upcoming["scheduled_maintenances"]] == ["Later"]


def test_it_reports_all_operational_for_a_quiet_page(client: Client) -> None:
    quiet = make_status_page("quiet")
    make_component(quiet, "API", [make_source("solo")])
    body = get(client, "/status/quiet/api/v2/status.json")
    assert body["status"] == {"indicator": "none", "description": "All systems operational"}


def test_it_lets_widgets_elsewhere_read_a_public_page(client: Client, page: Any) -> None:
    response = client.get("/status/acme/api/v2/status.json")
    assert response["Access-Control-Allow-Origin"] == "*"


def test_it_dates_an_incident_resolved_without_an_update_as_the_feeds_do(client: Client) -> None:
    started = timezone.now() - timedelta(hours=2)
    resolved = started + timedelta(hours=1)
    incident = make_incident(
        make_status_page("acme"), "Slow pages", [("investigating", "Looking.")], started_at=started
    )
    # Resolved in the admin: the status and its time, and no timeline update saying so.
    type(incident).objects.filter(pk=incident.pk).update(status="resolved", resolved_at=resolved)
    answered = get(client, "/status/acme/api/v2/incidents.json")["incidents"][0]
    assert datetime.fromisoformat(answered["updated_at"]) == resolved
    item = client.get("/status/acme/feed.json").json()["items"][0]
    assert datetime.fromisoformat(item["date_modified"]) == resolved  # the feed's date of the same incident


def test_it_moves_the_pages_updated_at_when_a_components_state_changes(client: Client) -> None:
    page = make_status_page("acme")
    fresh = timezone.now() - timedelta(seconds=5)
    source = make_source("eu-west", last_polled_at=fresh, last_success_at=fresh)
    make_component(page, "API", [source])
    before = get(client, "/status/acme/api/v2/status.json")["page"]["updated_at"]
    assert get(client, "/status/acme/api/v2/status.json")["page"]["updated_at"] == before  # a read moves nothing

    # The source fails: no page, component or incident row is edited, yet the page shows an outage.
    failed = timezone.now()
    Source.objects.filter(pk=source.pk).update(consecutive_failures=3, last_error_at=failed)
    generations.bump(generations.HEALTH)  # as the poller's health_changed does (statuspages/receivers.py)
    summary = get(client, "/status/acme/api/v2/summary.json")
    assert summary["components"][0]["status"] == "major_outage"
    moved = datetime.fromisoformat(summary["page"]["updated_at"])
    assert moved > datetime.fromisoformat(before)
    assert moved >= failed
    assert get(client, "/status/acme/api/v2/status.json")["page"]["updated_at"] == summary["page"]["updated_at"]


def test_it_moves_the_pages_updated_at_when_an_incident_is_updated(client: Client) -> None:
    page = make_status_page("acme")
    make_component(page, "API", [make_source("eu-west")])
    incident = make_incident(page, "Slow pages", [("investigating", "Looking.")])
    before = datetime.fromisoformat(get(client, "/status/acme/api/v2/status.json")["page"]["updated_at"])
    # Resolved in the admin without a timeline update and without touching the incident's updated_at.
    resolved = timezone.now() + timedelta(minutes=1)
    type(incident).objects.filter(pk=incident.pk).update(status="resolved", resolved_at=resolved)
    generations.bump(generations.page_scope(page.pk))  # as the admin's save does (statuspages/receivers.py)
    after = datetime.fromisoformat(get(client, "/status/acme/api/v2/status.json")["page"]["updated_at"])
    assert before < after == resolved
