"""The Django admin for a staff user who is admin of one team: their team's objects and choices only."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Membership, Role, Team
from alerts.models import NotificationChannel
from tests.factories import add_member, make_source, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams() -> tuple[Team, Team]:
    blue, red = make_team("blue"), make_team("red")
    make_source("blue-api", team=blue)
    make_source("red-secret", team=red)
    NotificationChannel.objects.create(team=blue, name="blue mail", kind="email", email_to="b@example.com")
    NotificationChannel.objects.create(team=red, name="red mail", kind="email", email_to="r@example.com")
    return blue, red


@pytest.fixture
def team_admin(client: Client, teams: tuple[Team, Team], settings: object) -> Client:
    settings.REQUIRE_MFA_FOR_STAFF = False  # type: ignore[attr-defined]
    user = make_user("ada", staff=True, password=None)
    add_member(user, teams[0], Role.ADMIN)
    client.force_login(user)
    return client


def test_it_lists_only_the_teams_objects(team_admin: Client) -> None:
    page = team_admin.get("/admin/pollers/source/").content.decode()
    assert "blue-api" in page
    assert "red-secret" not in page
    channels = team_admin.get("/admin/alerts/notificationchannel/").content.decode()
    assert "blue mail" in channels
    assert "red mail" not in channels


def test_it_offers_only_the_teams_choices(team_admin: Client) -> None:
    form = team_admin.get("/admin/alerts/alertrule/add/").content.decode()
    team_select = re.search(r'<select name="team".*?</select>', form, re.S)
    assert team_select is not None
    assert "Blue" in team_select.group(0)
    assert "Red" not in team_select.group(0)
    assert "red mail" not in form
    assert "blue mail" in form


def test_it_refuses_another_teams_object_by_url(team_admin: Client, teams: tuple[Team, Team]) -> None:
    red_source = teams[1].sources.get()
    response = team_admin.get(f"/admin/pollers/source/{red_source.pk}/change/")
    assert response.status_code == 302  # the admin's "does not exist" redirect
    assert "red-secret" not in team_admin.get(response["Location"]).content.decode()


def test_it_gives_staff_without_a_team_role_nothing(client: Client, teams: tuple[Team, Team], settings: object) -> None:
    settings.REQUIRE_MFA_FOR_STAFF = False  # type: ignore[attr-defined]
    viewer = make_user("bob", staff=True, password=None)
    add_member(viewer, teams[0], Role.VIEWER)
    client.force_login(viewer)
    assert client.get("/admin/pollers/source/").status_code == 403


def test_it_keeps_the_last_admin_in_the_admin(team_admin: Client) -> None:
    mine = Membership.objects.get(user__username="ada")
    page = team_admin.post(f"/admin/accounts/membership/{mine.pk}/delete/", {"post": "yes"}, follow=True)
    assert "Not removed" in page.content.decode()
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_it_makes_a_team_admin_name_one_of_their_teams(team_admin: Client, teams: tuple[Team, Team]) -> None:
    data = {"name": "pager", "kind": "email", "enabled": "on", "email_to": "p@example.com"}
    assert team_admin.post("/admin/alerts/notificationchannel/add/", data).status_code == 200  # team missing
    assert team_admin.post("/admin/alerts/notificationchannel/add/", {**data, "team": teams[1].pk}).status_code == 200
    assert not NotificationChannel.objects.filter(name="pager").exists()
    assert team_admin.post("/admin/alerts/notificationchannel/add/", {**data, "team": teams[0].pk}).status_code == 302
    assert NotificationChannel.objects.get(name="pager").team == teams[0]


def test_it_lets_a_team_admin_issue_tokens_only_for_themselves(team_admin: Client, teams: tuple[Team, Team]) -> None:
    from accounts.models import ApiToken

    root = make_user("root", superuser=True)
    mallory = make_user("mallory")
    add_member(mallory, teams[0], Role.ADMIN)
    form = team_admin.get("/admin/accounts/apitoken/add/").content.decode()
    user_select = re.search(r'<select name="user".*?</select>', form, re.S)
    assert user_select is not None
    assert "ada" in user_select.group(0)
    assert "root" not in user_select.group(0)
    assert "mallory" not in user_select.group(0)  # a member of the same team: acting as them is impersonation

    for other in (root, mallory):
        response = team_admin.post(
            "/admin/accounts/apitoken/add/",
            {"user": other.pk, "name": "imp", "team": teams[0].pk, "role": "admin"},
        )
        assert response.status_code == 200  # the form again, with its error
        assert not ApiToken.objects.filter(name="imp").exists()
    ada = get_user_model().objects.get(username="ada")
    response = team_admin.post(
        "/admin/accounts/apitoken/add/", {"user": ada.pk, "name": "mine", "team": teams[0].pk, "role": "admin"}
    )
    assert response.status_code == 302
    token = ApiToken.objects.get(name="mine")
    assert token.user.username == "ada"

    # Nobody moves a token to another user: the field is shown, not offered.
    change = team_admin.post(
        f"/admin/accounts/apitoken/{token.pk}/change/",
        {"user": root.pk, "name": "mine", "team": teams[0].pk, "role": "admin"},
    )
    assert change.status_code == 302
    token.refresh_from_db()
    assert token.user.username == "ada"


def test_it_scopes_status_pages_their_parts_and_objectives_to_the_team(
    team_admin: Client, teams: tuple[Team, Team]
) -> None:
    from tests.factories import make_component, make_objective, make_status_page

    blue, red = teams
    blue_page, red_page = make_status_page("blue-page", team=blue), make_status_page("red-page", team=red)
    make_component(blue_page, "Blue API")
    red_part = make_component(red_page, "Red Vault")
    make_objective("blue budget", team=blue)
    red_objective = make_objective("RED-SECRET-SLO", team=red)
    for listing, ours, theirs in [
        ("/admin/statuspages/statuspage/", "blue-page", "red-page"),
        ("/admin/statuspages/component/", "Blue API", "Red Vault"),
        ("/admin/objectives/objective/", "blue budget", "RED-SECRET-SLO"),
    ]:
        page = team_admin.get(listing)
        assert page.status_code == 200, listing  # the team role opens them, no model permission needed
        assert ours in page.content.decode()
        assert theirs not in page.content.decode()
    for url in (
        f"/admin/statuspages/statuspage/{red_page.pk}/change/",
        f"/admin/statuspages/component/{red_part.pk}/change/",
        f"/admin/objectives/objective/{red_objective.pk}/change/",
    ):
        assert team_admin.get(url).status_code == 302, url  # the admin's "does not exist" redirect
    form = team_admin.get("/admin/objectives/objective/add/").content.decode()
    assert "red-secret" not in form  # red's sources are not offered to cover


def test_it_keeps_the_token_cap_in_the_django_admin(team_admin: Client, teams: tuple[Team, Team]) -> None:
    # The admin saved the form's token as it came: a 51st, 52nd, ... past MAX_TOKENS_PER_USER.
    from accounts.models import MAX_TOKENS_PER_USER, ApiToken

    ada = get_user_model().objects.get(username="ada")
    for n in range(MAX_TOKENS_PER_USER):
        ApiToken.issue(ada, f"t{n}", team=teams[0])
    response = team_admin.post(
        "/admin/accounts/apitoken/add/", {"user": ada.pk, "name": "one more", "team": teams[0].pk, "role": "viewer"}
    )
    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.non_field_errors() == ["You have 50 tokens; revoke some first."]
    assert ApiToken.objects.filter(user=ada).count() == MAX_TOKENS_PER_USER

    ApiToken.objects.filter(user=ada, name="t0").delete()
    taken = team_admin.post(
        "/admin/accounts/apitoken/add/", {"user": ada.pk, "name": "t1", "team": teams[0].pk, "role": "viewer"}
    )
    assert taken.context["adminform"].form.errors["name"] == ["You already have a token with this name."]
    kept = team_admin.post(
        "/admin/accounts/apitoken/add/", {"user": ada.pk, "name": "t0", "team": teams[0].pk, "role": "viewer"}
    )
    assert kept.status_code == 302
    assert ApiToken.objects.filter(user=ada).count() == MAX_TOKENS_PER_USER
    # A change is no new token: the cap does not refuse it.
    token = ApiToken.objects.get(user=ada, name="t0")
    changed = team_admin.post(
        f"/admin/accounts/apitoken/{token.pk}/change/", {"name": "t0 renamed", "team": teams[0].pk, "role": "viewer"}
    )
    assert changed.status_code == 302


def test_it_names_no_other_teams_objects_in_the_list_filters(team_admin: Client, teams: tuple[Team, Team]) -> None:
    """Django's filter on a relation lists every row of the related table: red's source and channel names and
    the team's own name reached blue's admin in the side bar of the poll failures, deliveries and the rest."""
    from django.utils import timezone

    from alerts.models import Delivery
    from pollers.models import PollFailure

    blue, red = teams
    for team in teams:
        source = team.sources.get()
        PollFailure.objects.create(source=source, occurred_at=timezone.now(), kind="timeout")
        channel = NotificationChannel.objects.get(team=team)
        Delivery.objects.create(channel=channel, is_test=True, reason=Delivery.Reason.FIRED)
    red_source, red_channel = red.sources.get(), NotificationChannel.objects.get(team=red)
    leaks = (
        red_source.name,
        "red mail",
        f"source__id__exact={red_source.pk}",
        f"channel__id__exact={red_channel.pk}",
        f"team__id__exact={red.pk}",
    )
    for listing in (
        "/admin/pollers/pollfailure/",
        "/admin/alerts/delivery/",
        "/admin/pollers/source/",
        "/admin/alerts/alertrule/",
        "/admin/alerts/silence/",
        "/admin/alerts/notificationchannel/",
        "/admin/accounts/apitoken/",
        "/admin/accounts/membership/",
        "/admin/statuspages/statuspage/",
        "/admin/objectives/objective/",
    ):
        page = team_admin.get(listing)
        assert page.status_code == 200, listing
        found = [leak for leak in leaks if leak in page.content.decode()]
        assert found == [], listing
    # The filters still work on the team's own rows.
    blue_source = blue.sources.get()
    failures = team_admin.get(f"/admin/pollers/pollfailure/?source__id__exact={blue_source.pk}")
    assert failures.status_code == 200
    assert "1 poll failure" in failures.content.decode()


def test_it_offers_a_team_admin_only_the_people_of_their_teams_as_members(
    team_admin: Client, teams: tuple[Team, Team]
) -> None:
    """Every account was offered: the names of the people of every team, each one to put in blue unasked."""
    blue, red = teams
    bea = make_user("bea-of-blue", password=None)
    add_member(bea, blue, Role.VIEWER)
    rex = make_user("rex-of-red", password=None)
    add_member(rex, red, Role.ADMIN)
    form = team_admin.get("/admin/accounts/membership/add/").content.decode()
    user_select = re.search(r'<select name="user".*?</select>', form, re.S)
    assert user_select is not None
    assert "bea-of-blue" in user_select.group(0)
    assert "rex-of-red" not in user_select.group(0)
    response = team_admin.post("/admin/accounts/membership/add/", {"user": rex.pk, "team": blue.pk, "role": "viewer"})
    assert response.status_code == 200  # the form again, with its error
    assert not Membership.objects.filter(user=rex, team=blue).exists()
