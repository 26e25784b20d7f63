"""A rule's name is unique within its team: the admin refuses a second one (a blank team included: the rule
would be saved into the default team), and the rule added with a new source takes a free name."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from alerts.defaults import add_unreachable_rule
from alerts.models import AlertRule
from objectives.models import Objective
from tests.factories import (
    PASSWORD,
    default_team,
    make_objective,
    make_rule,
    make_source,
    make_team,
    make_user,
    rule_form,
)

pytestmark = pytest.mark.django_db

RULE = rule_form()


@pytest.fixture
def root(client: Client) -> Client:
    make_user("root", superuser=True)
    client.login(username="root", password=PASSWORD)
    return client


@pytest.mark.parametrize("team", ["chosen", "blank"])
def test_it_refuses_a_second_rule_of_one_name_in_the_admin(root: Client, team: str) -> None:
    make_rule("cpu", team=default_team())
    response = root.post(
        "/admin/alerts/alertrule/add/", {**RULE, "name": "cpu", "team": default_team().pk if team == "chosen" else ""}
    )
    assert response.status_code == 200
    assert "The team already has an alert rule with this name." in response.content.decode()
    assert AlertRule.objects.count() == 1
    other = make_team("green")
    assert root.post("/admin/alerts/alertrule/add/", {**RULE, "name": "cpu", "team": other.pk}).status_code == 302


def test_it_refuses_a_second_objective_of_one_name_when_the_admin_leaves_the_team_blank(root: Client) -> None:
    make_objective("api up", team=default_team(), tag="api")
    data = {"name": "api up", "team": "", "tag": "api", "kind": "availability", "target": "99.9"}
    response = root.post("/admin/objectives/objective/add/", {**data, "window_days": 30, "window_kind": "rolling"})
    assert response.status_code == 200
    assert "Objective with this Team and Name already exists." in response.content.decode()
    assert Objective.objects.count() == 1


def test_it_names_the_unreachable_rule_of_a_new_source_freely(settings: Any) -> None:
    settings.ALERTS_DEFAULT_UNREACHABLE_RULE = True
    team = make_team("blue")
    # A rule already named as the new source's would be: say the old source was renamed, its rule kept.
    make_rule("eu unreachable", team=team)
    make_rule("eu unreachable (2)", team=team)
    rule = add_unreachable_rule(make_source("eu", team=team))
    assert rule is not None
    assert rule.name == "eu unreachable (3)"
    other = add_unreachable_rule(make_source("us", team=team))
    assert other is not None
    assert other.name == "us unreachable"
