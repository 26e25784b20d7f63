"""Feature flags: waffle's rules plus teams, the declared defaults, the flags the code asks about, the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from accounts.models import Role
from provisioning.apply import apply_files
from provisioning.flags import CONFIG_API, FLAGS, LIVE_CHANGES, flag_active
from provisioning.models import Flag
from tests.factories import add_member, initial_flag, make_source, make_team, make_user, member
from tests.paths import ROOT

pytestmark = pytest.mark.django_db


def request_for(user: Any) -> Any:
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_it_turns_a_flag_on_for_the_members_of_its_teams_through_the_files() -> None:
    blue, red = make_team("blue"), make_team("red")
    member, outsider = make_user("ada"), make_user("bob")
    add_member(member, blue, Role.VIEWER)
    add_member(outsider, red, Role.ADMIN)
    assert not flag_active(request_for(member), CONFIG_API)

    apply_files({"f.yaml": "flags:\n  - name: config_api\n    teams: [blue]\n"})
    assert flag_active(request_for(member), CONFIG_API)
    assert not flag_active(request_for(outsider), CONFIG_API)
    assert flag_active(request_for(make_user("root", superuser=True)), CONFIG_API)  # superusers: waffle's default

    apply_files({"f.yaml": "flags:\n  - name: config_api\n    teams: [blue]\n    everyone: false\n"})
    assert not flag_active(request_for(member), CONFIG_API)


def test_it_falls_back_to_the_declared_default_without_a_row() -> None:
    Flag.objects.all().delete()
    user = make_user("ada")
    assert flag_active(request_for(user), LIVE_CHANGES) is True
    assert flag_active(request_for(user), CONFIG_API) is False


def test_it_gates_the_live_follow_of_the_changes_page(client: Client) -> None:
    make_source("us-east")
    member(client, username="ada")  # a viewer of the default team, which owns the source
    assert b"data-live-url" in client.get("/sources/us-east/changes/").content
    flag = initial_flag("live_changes")
    flag.everyone = False
    flag.save()
    flag.flush()
    assert b"data-live-url" not in client.get("/sources/us-east/changes/").content


def test_it_documents_every_declared_flag_with_its_owner_and_removal_plan() -> None:
    doc = (ROOT / "docs" / "feature-flags.md").read_text(encoding="utf-8")
    for flag in FLAGS.values():
        assert f"`{flag.name}`" in doc
        assert flag.owner in doc
        assert flag.removal in doc


def test_it_manages_flags_in_the_admin(client: Client) -> None:
    initial_flag("config_api")
    client.force_login(make_user("root", superuser=True))
    page = client.get("/admin/provisioning/flag/")
    assert page.status_code == 200
    assert b"config_api" in page.content
    assert client.get("/admin/waffle/switch/").status_code == 200
