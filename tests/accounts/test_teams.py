"""The one access rule (accounts/teams.py): roles rank, superusers see all, nobody else sees across teams."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from accounts import teams
from accounts.models import Membership, Role, Team
from alerts.models import AlertRule
from pollers.models import Source
from tests.factories import add_member, make_source, make_team, make_user
from tests.migration_state import models_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_teams() -> tuple[Team, Team]:
    return make_team("blue"), make_team("green")


@pytest.mark.parametrize(
    ("role", "read", "operate", "manage"),
    [
        (Role.VIEWER, True, False, False),
        (Role.OPERATOR, True, True, False),
        (Role.ADMIN, True, True, True),
    ],
)
def test_it_ranks_roles(two_teams: tuple[Team, Team], role: str, read: bool, operate: bool, manage: bool) -> None:
    blue, green = two_teams
    user = make_user("ada")
    add_member(user, blue, role)
    assert [teams.allows(user, blue, action) for action in teams.Action] == [read, operate, manage]
    assert not any(teams.allows(user, green, action) for action in teams.Action)


def test_it_lets_a_superuser_do_everything_without_a_membership(two_teams: tuple[Team, Team]) -> None:
    root = make_user("root", superuser=True)
    assert all(teams.allows(root, team, action) for team in two_teams for action in teams.Action)
    assert teams.role_in(root, two_teams[1]) == Role.ADMIN


def test_it_grants_staff_nothing_by_itself(two_teams: tuple[Team, Team]) -> None:
    staff = make_user("sam", staff=True)
    assert not teams.allows(staff, two_teams[0], teams.Action.READ)
    assert list(teams.teams_of(staff)) == []


def test_it_grants_an_inactive_member_and_anonymous_nothing(two_teams: tuple[Team, Team]) -> None:
    blue, _ = two_teams
    gone = make_user("gone")
    add_member(gone, blue, Role.ADMIN)
    gone.is_active = False
    gone.save()
    for user in (gone, AnonymousUser()):
        assert not teams.allows(user, blue, teams.Action.READ)
        assert teams.restrict(Source.objects.all(), user).count() == 0


def test_it_restricts_querysets_to_the_teams_allowing_the_action(two_teams: tuple[Team, Team]) -> None:
    blue, green = two_teams
    make_source("us-east", team=blue)
    make_source("eu-west", team=green)
    user = make_user("ada")
    add_member(user, blue, Role.ADMIN)
    add_member(user, green, Role.VIEWER)
    assert sorted(teams.restrict(Source.objects.all(), user).values_list("slug", flat=True)) == ["eu-west", "us-east"]
    managed = teams.restrict(Source.objects.all(), user, teams.Action.MANAGE)
    assert list(managed.values_list("slug", flat=True)) == ["us-east"]
    assert list(teams.teams_of(user, teams.Action.OPERATE)) == [blue]


def test_it_filters_in_one_statement_whatever_the_number_of_teams() -> None:
    user = make_user("ada")
    for n in range(30):
        team = make_team(f"t{n}")
        make_source(f"s{n}", team=team)
        if n % 2:
            add_member(user, team, Role.VIEWER)
    with CaptureQueriesContext(connection) as queries:
        assert len(list(teams.restrict(Source.objects.all(), user))) == 15
    assert len(queries) == 1


def test_it_puts_what_names_no_team_into_the_default_team() -> None:
    source = make_source("us-east")
    rule = AlertRule.objects.create(name="cpu", kind="metric", metric="cpu_load")
    assert source.team == rule.team == teams.default_team()
    assert teams.default_team().slug == "default"


def test_it_refuses_a_second_membership_in_the_same_team(two_teams: tuple[Team, Team]) -> None:
    user = make_user("ada")
    add_member(user, two_teams[0])
    with pytest.raises(IntegrityError):
        Membership.objects.create(user=user, team=two_teams[0], role=Role.ADMIN)


def test_it_caps_a_role_by_another() -> None:
    assert teams.lower_role(Role.ADMIN, Role.VIEWER) == Role.VIEWER
    assert teams.lower_role(Role.OPERATOR, Role.ADMIN) == Role.OPERATOR
    assert teams.lower_role(Role.ADMIN, None) is None
    assert teams.lower_role("root", Role.ADMIN) is None  # an unknown role grants nothing


# --- the migration --------------------------------------------------------------------------------

BEFORE = [
    ("accounts", "0002_audit_event"),
    ("pollers", "0006_source_pinned_metrics"),
    ("alerts", "0004_rulestate_acknowledged"),
]
AFTER = [("accounts", "0003_teams"), ("pollers", "0007_team"), ("alerts", "0005_team")]


@pytest.mark.django_db(transaction=True)
def test_it_moves_existing_data_into_the_default_team() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = models_at(BEFORE)
        User = old.get_model("auth", "User")
        User.objects.create(username="sam", is_staff=True)
        reader = User.objects.create(username="rita")
        source = old.get_model("pollers", "Source").objects.create(slug="us-east", name="US East", url="http://x.test/")
        rule = old.get_model("alerts", "AlertRule").objects.create(name="cpu", kind="metric", metric="cpu_load")
        channel = old.get_model("alerts", "NotificationChannel").objects.create(name="ops", kind="email")
        token = old.get_model("accounts", "ApiToken").objects.create(
            user=reader, name="ci", token_hash="h" * 64, prefix="dit_abc"
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = models_at(AFTER)
        team = new.get_model("accounts", "Team").objects.get()
        assert (team.slug, team.name) == ("default", "Default")
        roles = dict(new.get_model("accounts", "Membership").objects.values_list("user__username", "role"))
        assert roles == {"sam": "admin", "rita": "viewer"}
        assert new.get_model("pollers", "Source").objects.get(pk=source.pk).team_id == team.pk
        assert new.get_model("alerts", "AlertRule").objects.get(pk=rule.pk).team_id == team.pk
        assert new.get_model("alerts", "NotificationChannel").objects.get(pk=channel.pk).team_id == team.pk
        assert new.get_model("accounts", "ApiToken").objects.get(pk=token.pk).team_id == team.pk
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
