"""/api/v1/objectives and /api/v1/anomalies: team-scoped reads, admin-only creation, the one error shape."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from accounts.teams import default_team
from alerts.models import AlertEvent
from objectives.models import Objective
from tests.alerts.support import make_rule
from tests.api.support import assert_error
from tests.factories import add_member, make_objective, make_source, make_team, make_user, record_outcomes

pytestmark = pytest.mark.django_db


def member(client: Client, role: str, team: Any = None, username: str = "ana") -> Client:
    user = make_user(username)
    add_member(user, team or default_team(), role)
    client.force_login(user)
    return client


def post(client: Client, data: Any) -> Any:
    return client.post("/api/v1/objectives", data=data, content_type="application/json")


def test_it_lists_the_objectives_of_the_callers_teams_with_attainment_and_burn_rates(client: Client) -> None:
    source = make_source("us-east")
    record_outcomes(source, timezone.now() - timedelta(hours=2), up=998, down=2)
    make_objective("api up", sources=[source])
    other = make_team("red")
    make_objective("red up", team=other, tag="prod")
    member(client, Role.VIEWER)

    body = client.get("/api/v1/objectives").json()

    assert [o["name"] for o in body["objectives"]] == ["api up"]
    attainment = body["objectives"][0]["attainment"]
    assert (attainment["good"], attainment["total"]) == (998, 1000)
    assert attainment["attainment_percent"] == pytest.approx(99.8)
    # 2 bad of 1000 against a budget of 0.1 %: twice the budget spent, -100 % remains.
    assert attainment["remaining_budget_percent"] == pytest.approx(-100.0)
    assert attainment["burn_rates"]["6h"] == pytest.approx(2.0)
    assert attainment["burn_rates"]["1h"] is None  # no poll in the last complete hour
    assert attainment["met"] is False


def app_queries(queries: CaptureQueriesContext) -> list[str]:
    """The API's own queries: the metric store's reads (one an objective, by design: ``measure``) left out."""
    return [query["sql"] for query in queries.captured_queries if '"metrics_' not in query["sql"]]


def test_it_lists_objectives_in_as_many_queries_for_one_as_for_several(client: Client) -> None:
    # Each objective read its covered sources twice, for its "sources" and for its attainment: two queries an
    # objective of a tag, so the list's queries grew with the objectives.
    us_east = make_source("us-east", tags=["prod"])
    make_source("eu-west", tags=["prod", "eu"])
    make_objective("by prod", tag="prod")
    member(client, Role.VIEWER)
    client.get("/api/v1/objectives")  # warm the session and user caches of this client
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/objectives").status_code == 200

    make_objective("by eu", tag="eu")
    make_objective("chosen", sources=[us_east])
    make_objective("lost", tag="canary")
    with CaptureQueriesContext(connection) as several:
        body = client.get("/api/v1/objectives").json()

    sources = {o["name"]: o["sources"] for o in body["objectives"]}
    assert sources == {
        "by eu": ["eu-west"],
        "by prod": ["eu-west", "us-east"],
        "chosen": ["us-east"],
        "lost": [],
    }
    assert len(app_queries(several)) == len(app_queries(one))


def test_it_creates_an_objective_for_a_team_admin(client: Client) -> None:
    make_source("us-east")
    member(client, Role.ADMIN)
    response = post(
        client,
        {
            "name": "wait",
            "kind": "metric",
            "sources": ["us-east"],
            "metric": "wait_time",
            "operator": "<",
            "bound": 100,
            "target": 99,
            "window_days": 7,
        },
    )
    assert response.status_code == 201, response.content
    assert response["Location"] == f"/api/v1/objectives/{response.json()['id']}"
    created = Objective.objects.get()
    assert (created.kind, created.metric, created.operator, created.bound) == ("metric", "wait_time", "<", 100.0)
    assert client.get(response["Location"]).json()["sources"] == ["us-east"]


def test_it_refuses_a_second_objective_of_one_name_in_the_team_on_its_name(client: Client) -> None:
    # Configuration as code knows an objective by team and name: the database holds it unique.
    make_source("us-east", tags=["prod"])
    make_objective("api up", tag="prod")
    member(client, Role.ADMIN)
    error = assert_error(post(client, {"name": "api up", "tag": "prod"}), 400)
    assert error["details"]["fields"] == {"name": ["Objective with this Team and Name already exists."]}
    assert Objective.objects.count() == 1


def test_it_refuses_creation_to_an_operator(client: Client) -> None:
    member(client, Role.OPERATOR)
    assert_error(post(client, {"name": "x", "tag": "prod"}), 403, "insufficient_role")
    assert not Objective.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "tag": "prod", "target": 100}, "target"),
        ({"name": "x", "tag": "prod", "kind": "metric"}, "metric"),
        ({"name": "x", "sources": ["nowhere"]}, "sources"),
        ({"name": "x"}, "sources"),
        ({"name": "x", "tag": "nowhere"}, "tag"),
        ({"name": "x", "tag": "prod", "window_days": 14}, "window_days"),
        ({"name": "x", "tag": "prod", "team": "nope"}, "team"),
    ],
)
def test_it_names_the_bad_field_of_an_invalid_objective(client: Client, body: dict[str, Any], field: str) -> None:
    member(client, Role.ADMIN)
    error = assert_error(post(client, body), 400)
    assert field in error["details"]["fields"], error
    assert not Objective.objects.exists()


@pytest.mark.parametrize("target", ["1e999999", "1e9999999", "-1e400", "1e-400"])
def test_it_refuses_a_target_of_absurd_magnitude_quickly_with_a_400(client: Client, target: str) -> None:
    # The exact fraction of 1e9999999 is a ten-million-digit integer: seconds of CPU (a minute and more for
    # 1e99999999) and then a 500, before the magnitude was checked first.
    member(client, Role.ADMIN)
    started = time.monotonic()
    error = assert_error(post(client, {"name": "x", "tag": "prod", "target": target}), 400)
    assert time.monotonic() - started < 2
    assert "target" in error["details"]["fields"], error
    assert not Objective.objects.exists()


def test_it_hides_an_objective_of_another_team(client: Client) -> None:
    objective = make_objective("red up", team=make_team("red"), tag="prod")
    member(client, Role.VIEWER)
    assert_error(client.get(f"/api/v1/objectives/{objective.pk}"), 404, "objective_not_found")


def test_it_lists_anomaly_markers_of_a_source_in_a_range(client: Client) -> None:
    source = make_source("us-east")
    rule = make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal")
    now = timezone.now()
    fired = AlertEvent.objects.create(
        rule=rule,
        rule_name=rule.name,
        source=source,
        kind="fired",
        severity="warning",
        condition="c",
        value={
            "metric": "wait_time",
            "hour": "2026-11-30T10:00:00+00:00",
            "value": 240.0,
            "seasonal": {"median": 60.0, "z": 12.1, "flagged": True},
        },
        message="m",
        occurred_at=now - timedelta(hours=3),
    )
    AlertEvent.objects.create(
        rule=rule,
        rule_name=rule.name,
        source=source,
        kind="resolved",
        severity="warning",
        condition="c",
        value={},
        message="m",
        occurred_at=now - timedelta(hours=1),
        fired_event=fired,
    )
    member(client, Role.VIEWER)

    body = client.get("/api/v1/anomalies", {"source": "us-east"}).json()

    [marker] = body["anomalies"]
    assert (marker["metric"], marker["value"], marker["z"]) == ("wait_time", 240.0, {"seasonal": 12.1})
    assert marker["resolved_at"] is not None
    later = (now - timedelta(hours=2)).isoformat()
    assert client.get("/api/v1/anomalies", {"from": later}).json()["anomalies"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "nowhere"}, "source"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}, "from"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"sauce": "x"}, "sauce"),
    ],
)
def test_it_refuses_bad_anomaly_parameters(client: Client, params: dict[str, str], field: str) -> None:
    make_source("us-east")
    member(client, Role.VIEWER)
    error = assert_error(client.get("/api/v1/anomalies", params), 400)
    assert field in error["details"]["fields"]
