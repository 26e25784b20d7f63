"""``GET /api/v1/alerts`` for a caller of several teams: each team's silences quiet that team's alerts only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from alerts.models import Silence
from tests.alerts.support import PollDriver, make_rule
from tests.factories import add_member, default_team, make_source, make_team, make_user

pytestmark = pytest.mark.django_db


def test_it_marks_an_alert_silenced_only_by_a_tag_silence_of_its_own_team(client: Client) -> None:
    # The API compared the tag alone: a "prod" silence of red marked blue's firing "prod" alert silenced for
    # anyone in both teams, while the evaluator (Silence.objects.covering) went on notifying for it.
    red = make_team("red")
    east = make_source("us-east", tags=["prod"])
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    PollDriver(east).ok(cpu_load=95, online=5)
    now = timezone.now()
    window = {"starts_at": now - timedelta(minutes=1), "ends_at": now + timedelta(hours=1)}
    Silence.objects.create(team=red, tag="prod", reason="red's deploy", **window)
    user = make_user("both")
    add_member(user, default_team(), Role.VIEWER)
    add_member(user, red, Role.VIEWER)
    client.force_login(user)

    active = client.get("/api/v1/alerts").json()["active"]

    assert [(a["source"], a["state"], a["silenced"]) for a in active] == [("us-east", "firing", False)]
    assert not Silence.objects.covering(east)

    Silence.objects.create(tag="prod", reason="our deploy", **window)  # the default team's own
    assert [a["silenced"] for a in client.get("/api/v1/alerts").json()["active"]] == [True]
