"""The objectives in the Django admin: an objective's chosen sources are of its own team."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from objectives.models import Objective
from tests.factories import add_member, make_source, make_team, make_user

pytestmark = pytest.mark.django_db


def test_it_refuses_another_teams_source_for_an_objective(client: Client, settings: Any) -> None:
    # An admin of two teams is offered the sources of both; one of the other team was saved, and the objective
    # then silently left it out (Objective.covered_sources): refused where the person can see why.
    settings.REQUIRE_MFA_FOR_STAFF = False
    blue, red = make_team("blue"), make_team("red")
    mine, theirs = make_source("blue-api", team=blue), make_source("red-api", team=red)
    user = make_user("ada", staff=True, password=None)
    add_member(user, blue, Role.ADMIN)
    add_member(user, red, Role.ADMIN)
    client.force_login(user)
    data = {"name": "api up", "team": blue.pk, "kind": "availability", "target": "99.9", "window_days": 30}
    data["window_kind"] = "rolling"

    refused = client.post("/admin/objectives/objective/add/", {**data, "sources": [mine.pk, theirs.pk]})
    assert refused.status_code == 200
    assert "Choose sources of the objective&#x27;s team only." in refused.content.decode()
    assert not Objective.objects.exists()
    assert client.post("/admin/objectives/objective/add/", {**data, "sources": [mine.pk]}).status_code == 302
    assert [s.slug for s in Objective.objects.get().sources.all()] == ["blue-api"]


def test_it_refuses_an_objective_of_both_sources_and_a_tag_or_of_neither(client: Client, settings: Any) -> None:
    # With both, covered_sources judged the tag's sources and ignored the chosen ones; with neither, nothing.
    settings.REQUIRE_MFA_FOR_STAFF = False
    blue = make_team("blue")
    mine = make_source("blue-api", team=blue, tags=["prod"])
    user = make_user("ada", staff=True, password=None)
    add_member(user, blue, Role.ADMIN)
    client.force_login(user)
    data = {"name": "api up", "team": blue.pk, "kind": "availability", "target": "99.9", "window_days": 30}
    data["window_kind"] = "rolling"

    both = client.post("/admin/objectives/objective/add/", {**data, "sources": [mine.pk], "tag": "prod"})
    assert "Name either sources or a tag, not both" in both.content.decode()
    neither = client.post("/admin/objectives/objective/add/", data)
    assert "Name the sources covered or a tag" in neither.content.decode()
    assert not Objective.objects.exists()
    assert client.post("/admin/objectives/objective/add/", {**data, "tag": "prod"}).status_code == 302


def test_it_refuses_an_objective_of_a_tag_no_source_of_its_team_carries(client: Client, settings: Any) -> None:
    # A typo in the tag, or sources not tagged yet: saved, it judged nothing ("no data yet" for ever), and the
    # burn-rate rules watching it could never fire.
    settings.REQUIRE_MFA_FOR_STAFF = False
    blue = make_team("blue")
    make_source("blue-api", team=blue, tags=["prod"])
    make_source("red-api", team=make_team("red"), tags=["canary"])
    user = make_user("ada", staff=True, password=None)
    add_member(user, blue, Role.ADMIN)
    client.force_login(user)
    data = {"name": "api up", "team": blue.pk, "kind": "availability", "target": "99.9", "window_days": 30}
    data["window_kind"] = "rolling"

    for tag in ("prdo", "canary"):  # nowhere, and only on another team's source
        refused = client.post("/admin/objectives/objective/add/", {**data, "tag": tag})
        assert f"No source of its team has the tag &#x27;{tag}&#x27;" in refused.content.decode()
    assert not Objective.objects.exists()
    assert client.post("/admin/objectives/objective/add/", {**data, "tag": "prod"}).status_code == 302
