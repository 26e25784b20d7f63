"""``POST /api/v1/config/plan|apply``: who may (superuser, admins of every team touched, the config_api flag),
the body as JSON files or one YAML text, problems in the error shape, applies audited."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, AuditEvent, Role
from alerts.models import Silence
from pollers.models import Source
from tests.factories import add_member, bearer, initial_flag, make_source, make_team, make_user
from tests.provisioning.support import counts, text
from tests.races import needs_two_writers, waiting_at

pytestmark = pytest.mark.django_db

BLUE_SOURCE = "sources:\n  - slug: blue-one\n    team: blue\n    name: Blue One\n    url: http://127.0.0.1:9/b\n"


def token_for(user: Any, team: Any, role: str = Role.ADMIN) -> str:
    """A token of ``user`` acting in ``team`` with ``role`` (capped by the user's own role there)."""
    _token, raw = ApiToken.issue(user, f"ci-{role}-{ApiToken.objects.count()}", role=role, team=team)
    return raw


def post(client: Client, path: str, files: dict[str, str], token: str, **query: str) -> Any:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return client.post(
        f"/api/v1/config/{path}{suffix}", data=json.dumps(files), content_type="application/json", **bearer(token)
    )


def flag_on_for(team: Any) -> None:
    flag = initial_flag("config_api")
    flag.teams.set([team])
    flag.flush()


def test_it_lets_a_team_admin_plan_and_apply_with_the_flag_on_for_the_team(client: Client, setup_settings: Any) -> None:
    blue = make_team("blue")
    admin = make_user("ada")
    add_member(admin, blue, Role.ADMIN)
    token = token_for(admin, blue)

    refused = post(client, "plan", {"s.yaml": BLUE_SOURCE}, token)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "feature_not_enabled"

    flag_on_for(blue)
    planned = post(client, "plan", {"s.yaml": BLUE_SOURCE}, token)
    assert planned.status_code == 200, planned.content
    body = planned.json()
    assert body["changes"] is True
    assert body["counts"] == {"create": 1, "change": 0, "delete": 0}
    assert body["text"].startswith("+ create sources blue-one\n")
    assert not Source.objects.filter(slug="blue-one").exists()

    applied = post(client, "apply", {"s.yaml": BLUE_SOURCE}, token)
    assert applied.status_code == 200
    assert applied.json()["applied"] is True
    assert Source.objects.get(slug="blue-one").team == blue
    event = AuditEvent.objects.get(action="config.apply")
    assert event.actor == admin
    assert event.detail["counts"]["create"] == 1
    assert post(client, "apply", {"s.yaml": BLUE_SOURCE}, token).json()["applied"] is False


def test_it_refuses_viewers_other_teams_and_global_objects_to_a_team_admin(client: Client, setup_settings: Any) -> None:
    blue, red = make_team("blue"), make_team("red")
    admin, viewer = make_user("ada"), make_user("vic")
    add_member(admin, blue, Role.ADMIN)
    add_member(viewer, blue, Role.VIEWER)
    flag_on_for(blue)
    make_source("red-one", team=red)
    before = counts()

    answer = post(client, "apply", {"s.yaml": BLUE_SOURCE}, token_for(viewer, blue, Role.VIEWER))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_role"
    answer = post(client, "plan", {"s.yaml": BLUE_SOURCE}, token_for(viewer, blue, Role.VIEWER))
    assert answer.status_code == 403
    assert answer.json()["error"]["details"] == {"teams": ["blue"]}
    # Moving red's source into blue needs admin rights in red too.
    moved = BLUE_SOURCE.replace("blue-one", "red-one")
    answer = post(client, "apply", {"s.yaml": moved}, token_for(admin, blue))
    assert answer.status_code == 403
    assert answer.json()["error"]["details"] == {"teams": ["red"]}
    flags = "flags:\n  - name: config_api\n    everyone: true\n"
    answer = post(client, "plan", {"f.yaml": flags}, token_for(admin, blue))
    assert answer.status_code == 403
    assert answer.json()["error"]["details"]["teams"][0].startswith("(objects of no team")
    # Files naming another team are refused before anything is read: no problem reveals what red holds.
    for_red = "alert_rules:\n  - team: red\n    name: x\n    source: red-one\n    metric: nope\n"
    answer = post(client, "plan", {"r.yaml": for_red}, token_for(admin, blue))
    assert answer.status_code == 403
    assert answer.json()["error"]["details"] == {"teams": ["red"]}
    assert counts() == before
    assert Source.objects.get(slug="red-one").team == red


def test_it_needs_an_admin_token_to_apply_and_credentials_at_all(client: Client, setup_settings: Any) -> None:
    root = make_user("root", superuser=True)
    blue = make_team("blue")
    answer = post(client, "apply", {"s.yaml": BLUE_SOURCE}, token_for(root, blue, Role.VIEWER))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_role"
    assert post(client, "plan", {"s.yaml": BLUE_SOURCE}, token_for(root, blue)).status_code == 200
    client.force_login(root)  # a superuser's session may manage objects of no team too
    flags = client.post(
        "/api/v1/config/plan", data=json.dumps({"f.yaml": "flags: []\n"}), content_type="application/json"
    )
    assert flags.status_code == 200
    client.logout()
    anonymous = client.post("/api/v1/config/plan", data="{}", content_type="application/json")
    assert anonymous.status_code == 401


def test_it_answers_problems_with_file_line_and_path_and_changes_nothing(client: Client, setup_settings: Any) -> None:
    root = make_user("root", superuser=True)
    blue = make_team("blue")
    before = counts()
    bad = BLUE_SOURCE.replace("    url:", "    interval: 1\n    colour: red\n    url:")
    answer = post(client, "apply", {"s.yaml": bad}, token_for(root, blue))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "config_invalid"
    assert error["message"] == "2 problem(s) in the files; nothing was changed."
    assert [(p["file"], p["line"], p["path"]) for p in error["details"]["problems"]] == [
        ("s.yaml", 5, "sources[0].interval"),
        ("s.yaml", 6, "sources[0].colour"),
    ]
    assert error["details"]["problems"][0]["message"] == "must be at least 5"
    assert counts() == before


def test_it_takes_one_yaml_text_and_prunes_on_request(client: Client, setup_settings: Any) -> None:
    root = make_user("root", superuser=True)
    blue2 = make_team("blue2")
    make_source("blue-old", team=blue2)
    yaml_body = BLUE_SOURCE.replace("team: blue", "team: blue2")
    answer = client.post(
        "/api/v1/config/apply?prune=true",
        data=yaml_body,
        content_type="application/yaml",
        **bearer(token_for(root, blue2)),
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["counts"] == {"create": 1, "change": 0, "delete": 1}
    assert not Source.objects.filter(slug="blue-old").exists()


def test_it_refuses_bodies_it_cannot_read(client: Client, setup_settings: Any) -> None:
    token = token_for(make_user("root", superuser=True), make_team("blue"))
    wrong_type = client.post("/api/v1/config/plan", data="x", content_type="application/xml", **bearer(token))
    assert wrong_type.status_code == 415
    # The message said "send application/json." while the details (and the docs) also take YAML.
    assert wrong_type.json()["error"]["message"] == "Unsupported media type: send application/json or application/yaml."
    assert wrong_type.json()["error"]["details"]["expected"] == "application/json or application/yaml"
    # A body of another type is refused for its type before its bytes are read (they were: a 400 "not UTF-8").
    latin1_form = client.post(
        "/api/v1/config/plan",
        data="a=\xe9".encode("latin-1"),
        content_type="application/x-www-form-urlencoded",
        **bearer(token),
    )
    assert latin1_form.status_code == 415
    not_files = client.post(
        "/api/v1/config/plan", data=json.dumps({"a.yaml": 1}), content_type="application/json", **bearer(token)
    )
    assert not_files.status_code == 400
    assert not_files.json()["error"]["details"] == {"files": ["a.yaml"]}


@pytest.mark.django_db(transaction=True)
def test_it_answers_an_apply_that_loses_a_race_for_a_silence_reason_with_a_conflict(
    client: Client, setup_settings: Any
) -> None:
    # The Alerts page makes the silence "deploy" while an apply that creates "deploy" writes: the plan read no
    # such silence, and one_silence_reason_per_team refused the apply's INSERT (a 500). The apply answers a 409
    # and writes nothing; the page's silence stays.
    needs_two_writers()
    blue = make_team("blue")
    flag_on_for(blue)
    source = make_source("blue-one", team=blue)
    silence = {"team": "blue", "source": "blue-one", "reason": "deploy"}
    times = {"starts_at": "2026-12-01T01:00:00Z", "ends_at": "2026-12-01T02:00:00Z"}
    apply = partial(
        post,
        client,
        "apply",
        {"s.yaml": text({"silences": [silence | times]})},
        token_for(make_user("root", superuser=True), blue),
    )
    with waiting_at('INSERT INTO "alerts_silence" ', apply) as race:
        made = Silence.objects.create(
            team=blue, source=source, ends_at=timezone.now() + timedelta(hours=1), reason="deploy"
        )
    assert race.answer.status_code == 409, race.answer.content
    error = race.answer.json()["error"]
    assert error["code"] == "config_conflict"
    assert "one_silence_reason_per_team" in error["message"]
    assert "Nothing was changed" in error["message"]
    assert list(Silence.objects.values_list("pk", "ends_at")) == [(made.pk, made.ends_at)]
    assert not AuditEvent.objects.filter(action="config.apply").exists()
