"""A rule's name is unique within its team: the Alerts page's form says so, as a field error, rather than
failing on the database's constraint (the form has no team field: the page sets the current team)."""

from __future__ import annotations

import pytest
from django.test import Client

from alerts.models import AlertRule
from tests.factories import default_team, make_rule, make_team, rule_form

pytestmark = pytest.mark.django_db

RULE = rule_form()


def test_it_refuses_a_second_rule_of_one_name_in_the_team_with_a_field_error(staff_client: Client) -> None:
    first = make_rule("cpu", team=default_team())
    make_rule("memory", team=default_team())
    make_rule("cpu", team=make_team("green"))  # another team's rule of that name is no obstacle

    refused = staff_client.post("/alerts/rules/new/", RULE)
    assert refused.status_code == 400
    assert "The team already has an alert rule with this name." in refused.content.decode()
    assert AlertRule.objects.filter(team=default_team(), name="cpu").count() == 1

    renamed = staff_client.post(f"/alerts/rules/{first.pk}/", {**RULE, "name": "memory"})
    assert renamed.status_code == 400
    assert "The team already has an alert rule with this name." in renamed.content.decode()
    first.refresh_from_db()
    assert first.name == "cpu"

    # Saving a rule under its own name, or a free one, is no duplicate.
    assert staff_client.post(f"/alerts/rules/{first.pk}/", {**RULE, "threshold": "70"}).status_code == 302
    assert staff_client.post("/alerts/rules/new/", {**RULE, "name": "cpu 2"}).status_code == 302
