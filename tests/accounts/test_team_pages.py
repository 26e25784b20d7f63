"""Team pages: members and roles, leaving, invitations by one-time expiring link, switching, new teams."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, Team
from tests.factories import add_member, make_source, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def blue() -> Team:
    return make_team("blue")


def signed_in(client: Client, username: str, team: Team | None = None, role: str = Role.VIEWER) -> Client:
    user = make_user(username)
    if team is not None:
        add_member(user, team, role)
    client.force_login(user)
    return client


def test_it_lists_members_with_roles_to_members_only(client: Client, blue: Team) -> None:
    add_member(make_user("ada"), blue, Role.ADMIN)
    signed_in(client, "bob", blue, Role.VIEWER)
    page = client.get("/teams/blue/").content.decode()
    assert re.search(r'data-member="ada">\s*<td>ada</td>\s*<td>Admin</td>', page)
    assert re.search(r'data-member="bob">\s*<td>bob</td>\s*<td>Viewer</td>', page)
    assert "Set role" not in page
    assert "Create invitation link" not in page
    client.force_login(make_user("stranger"))
    assert client.get("/teams/blue/").status_code == 404


def test_it_lets_an_admin_change_roles_and_remove_members(client: Client, blue: Team) -> None:
    bob = add_member(make_user("bob"), blue, Role.VIEWER)
    signed_in(client, "ada", blue, Role.ADMIN)
    changed = client.post(f"/teams/blue/members/{bob.pk}/role/", {"role": "operator"}, follow=True)
    assert changed.redirect_chain == [("/teams/blue/", 302)]
    assert "bob is now operator of Blue." in changed.content.decode()
    assert Membership.objects.get(pk=bob.pk).role == Role.OPERATOR
    assert client.post(f"/teams/blue/members/{bob.pk}/role/", {"role": "owner"}).status_code == 400
    assert Membership.objects.get(pk=bob.pk).role == Role.OPERATOR  # an unknown role changes nothing
    client.post(f"/teams/blue/members/{bob.pk}/remove/")
    assert not Membership.objects.filter(pk=bob.pk).exists()


def test_it_refuses_role_changes_to_operators(client: Client, blue: Team) -> None:
    bob = add_member(make_user("bob"), blue, Role.VIEWER)
    signed_in(client, "op", blue, Role.OPERATOR)
    assert client.post(f"/teams/blue/members/{bob.pk}/role/", {"role": "admin"}).status_code == 403
    assert Membership.objects.get(pk=bob.pk).role == Role.VIEWER


def test_it_keeps_the_last_admin_and_says_why(client: Client, blue: Team) -> None:
    signed_in(client, "ada", blue, Role.ADMIN)
    me = Membership.objects.get(user__username="ada")
    page = client.post("/teams/blue/leave/", follow=True).content.decode()
    assert "would have no admin left" in page
    page = client.post(f"/teams/blue/members/{me.pk}/role/", {"role": "viewer"}).content.decode()
    assert "Not changed" in page
    page = client.post(f"/teams/blue/members/{me.pk}/remove/", follow=True).content.decode()
    assert "Not removed" in page
    assert Membership.objects.get(pk=me.pk).role == Role.ADMIN


def test_it_lets_a_member_leave(client: Client, blue: Team) -> None:
    add_member(make_user("ada"), blue, Role.ADMIN)
    signed_in(client, "bob", blue, Role.OPERATOR)
    response = client.post("/teams/blue/leave/")
    assert response.status_code == 302
    assert response["Location"] == "/teams/"
    assert not Membership.objects.filter(user__username="bob").exists()
    assert client.get("/teams/blue/").status_code == 404


def invite(client: Client, role: str = "operator", lifetime: str = "1") -> str:
    page = client.post("/teams/blue/invitations/", {"role": role, "lifetime": lifetime}).content.decode()
    found = re.search(r'id="invitation-link">([^<]+)<', page)
    assert found, page
    return found.group(1).replace("http://testserver", "")


def test_it_invites_by_a_one_time_link_that_needs_a_login(client: Client, blue: Team) -> None:
    signed_in(client, "ada", blue, Role.ADMIN)
    link = invite(client, "operator")
    raw = link.rstrip("/").rsplit("/", 1)[1]
    assert not Invitation.objects.filter(token_hash=raw).exists()  # only a hash is stored
    assert raw not in client.get("/teams/blue/").content.decode()  # shown once

    guest = Client()
    assert guest.get(link)["Location"].startswith("/accounts/login/")
    guest.force_login(make_user("newcomer"))
    assert "Join Blue" in guest.get(link).content.decode()
    assert guest.post(link).status_code == 302
    assert Membership.objects.get(user__username="newcomer").role == Role.OPERATOR

    other = Client()
    other.force_login(make_user("latecomer"))
    used = other.post(link)
    assert used.status_code == 410
    assert "already been used" in used.content.decode()
    assert not Membership.objects.filter(user__username="latecomer").exists()


def test_it_refuses_expired_unknown_and_revoked_links_clearly(client: Client, blue: Team) -> None:
    signed_in(client, "ada", blue, Role.ADMIN)
    link = invite(client)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    guest = Client()
    guest.force_login(make_user("guest"))
    expired = guest.post(link)
    assert expired.status_code == 410
    assert "has expired" in expired.content.decode()
    unknown = guest.get("/invitations/dii_not-a-real-token/")
    assert unknown.status_code == 410
    assert "not valid" in unknown.content.decode()

    second = invite(client)
    pending = Invitation.objects.get(expires_at__gt=timezone.now())
    client.post(f"/teams/blue/invitations/{pending.pk}/revoke/")
    assert guest.get(second).status_code == 410
    assert not Membership.objects.filter(user__username="guest").exists()


def test_it_tells_a_member_they_are_already_in_and_keeps_the_link(client: Client, blue: Team) -> None:
    signed_in(client, "ada", blue, Role.ADMIN)
    link = invite(client, "admin")
    assert client.post(link).status_code == 409
    assert Invitation.objects.get().used_at is None


def test_it_lets_only_superusers_create_teams(client: Client) -> None:
    signed_in(client, "ada")
    assert client.post("/teams/", {"name": "Payments"}).status_code == 403
    client.force_login(make_user("root", superuser=True))
    response = client.post("/teams/", {"name": "Payments"})
    assert response.status_code == 302
    team = Team.objects.get(slug="payments")
    assert Membership.objects.get(team=team).role == Role.ADMIN
    assert client.post("/teams/", {"name": "Switch"}).status_code == 400  # reserved for the switcher


def test_it_answers_400_to_a_role_change_it_refuses_with_the_error_on_the_members_row(
    client: Client, blue: Team
) -> None:
    # As every refused form (accounts.refused_forms): the team page again, not a redirect with a message.
    bob = add_member(make_user("bob"), blue, Role.VIEWER)
    signed_in(client, "ada", blue, Role.ADMIN)
    me = Membership.objects.get(user__username="ada")

    unknown = client.post(f"/teams/blue/members/{bob.pk}/role/", {"role": "owner"})
    last_admin = client.post(f"/teams/blue/members/{me.pk}/role/", {"role": "viewer"})

    assert (unknown.status_code, last_admin.status_code) == (400, 400)
    row = re.search(r'<tr data-member="bob">(.*?)</tr>', unknown.content.decode(), re.S)
    assert row is not None
    assert "Select a valid choice" in row.group(1)
    row = re.search(r'<tr data-member="ada">(.*?)</tr>', last_admin.content.decode(), re.S)
    assert row is not None
    assert "Not changed: Blue would have no admin left" in row.group(1)
    assert re.search(r"<td>Admin</td>", row.group(1)), "the role as stored"
    assert '<option value="viewer" selected>' in row.group(1), "the role chosen stays chosen"
    assert Membership.objects.get(pk=me.pk).role == Role.ADMIN
    assert Membership.objects.get(pk=bob.pk).role == Role.VIEWER


def test_it_answers_400_to_an_invitation_it_refuses_and_issues_none(client: Client, blue: Team) -> None:
    # As every refused form (accounts.refused_forms): the team page again, with the error, and no link.
    signed_in(client, "ada", blue, Role.ADMIN)
    response = client.post("/teams/blue/invitations/", {"role": "owner", "lifetime": "30"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert 'id="invitation-link"' not in response.content.decode()
    assert not Invitation.objects.exists()


def test_it_switches_the_current_team_from_the_navigation(client: Client, blue: Team) -> None:
    red = make_team("red")
    make_source("blue-api", team=blue)
    make_source("red-api", team=red)
    signed_in(client, "ada", blue)
    add_member(Membership.objects.get().user, red, Role.VIEWER)
    page = client.get("/").content.decode()
    assert 'id="team-switch"' in page
    assert "blue-api" in page
    assert "red-api" not in page
    response = client.post("/teams/switch/", {"team": red.pk, "next": "/alerts/"})
    assert response["Location"] == "/alerts/"
    page = client.get("/").content.decode()
    assert "red-api" in page
    assert "blue-api" not in page
    # Not a member of green: refused, and the current team stays.
    green = make_team("green")
    assert client.post("/teams/switch/", {"team": green.pk}).status_code == 404
    assert client.post("/teams/switch/", {"team": red.pk, "next": "https://evil.example/"})["Location"] == "/"
    assert "red-api" in client.get("/").content.decode()


def test_it_reads_the_current_team_and_the_switcher_in_one_statement(client: Client, blue: Team) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    red = make_team("red")
    signed_in(client, "ada", blue)
    add_member(Membership.objects.get().user, red, Role.VIEWER)
    client.post("/teams/switch/", {"team": red.pk})
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/").content.decode()
    switcher = re.search(r'<select name="team".*?</select>', page, re.S)
    assert switcher
    assert re.search(rf'value="{red.pk}" selected>Red<', switcher.group(0))
    assert f'value="{blue.pk}">Blue<' in switcher.group(0)
    team_reads = [q["sql"] for q in queries.captured_queries if 'FROM "accounts_team"' in q["sql"]]
    assert len(team_reads) == 1, team_reads


def test_it_needs_no_choice_with_one_team(client: Client, blue: Team) -> None:
    signed_in(client, "ada", blue)
    page = client.get("/").content.decode()
    assert 'id="team-switch"' not in page
    assert 'id="team-name"' in page


def test_it_says_a_team_without_members_has_none_instead_of_an_empty_table(client: Client, blue: Team) -> None:
    # make run's admin is a superuser outside the seeded team: the page showed a bare table header.
    client.force_login(make_user("root", superuser=True))
    page = client.get("/teams/blue/").content.decode()
    assert re.search(r'id="members-empty"><td colspan="3">No members yet', page)
    assert "Invite the first below." in page
    add_member(make_user("ada"), blue, Role.ADMIN)
    assert "members-empty" not in client.get("/teams/blue/").content.decode()
