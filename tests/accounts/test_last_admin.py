"""A team always keeps an admin: its last admin cannot leave, be removed or be demoted, by any path."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import close_old_connections, connection

from accounts.models import LastAdminError, Membership, Role
from tests.factories import add_member, make_team, make_user


@pytest.mark.django_db
def test_it_refuses_to_demote_remove_or_bulk_delete_the_last_admin() -> None:
    team = make_team("blue")
    admin = add_member(make_user("ada"), team, Role.ADMIN)
    add_member(make_user("bob"), team, Role.VIEWER)
    admin.role = Role.OPERATOR
    with pytest.raises(LastAdminError, match="Blue would have no admin left"):
        admin.save()
    with pytest.raises(LastAdminError):
        Membership.objects.get(pk=admin.pk).delete()
    with pytest.raises(LastAdminError):
        Membership.objects.filter(team=team).delete()
    with pytest.raises(LastAdminError):
        Membership.objects.filter(team=team).update(role=Role.VIEWER)
    assert Membership.objects.get(pk=admin.pk).role == Role.ADMIN
    assert Membership.objects.filter(team=team).count() == 2


@pytest.mark.django_db
def test_it_lets_an_admin_go_when_another_remains_and_leaves_other_teams_alone() -> None:
    blue, red = make_team("blue"), make_team("red")
    first = add_member(make_user("ada"), blue, Role.ADMIN)
    add_member(make_user("bob"), blue, Role.ADMIN)
    red_admin = add_member(make_user("cy"), red, Role.ADMIN)
    first.role = Role.VIEWER
    first.save()
    Membership.objects.filter(team=blue, role=Role.VIEWER).delete()
    assert list(Membership.objects.filter(team=blue).values_list("user__username", flat=True)) == ["bob"]
    # A bulk change that touches two teams is refused as a whole when one of them would lose its admin.
    with pytest.raises(LastAdminError, match="Red"):
        Membership.objects.filter(pk__in=[red_admin.pk]).update(role=Role.OPERATOR)


@pytest.mark.django_db
def test_it_still_deletes_a_team_with_its_memberships() -> None:
    team = make_team("blue")
    add_member(make_user("ada"), team, Role.ADMIN)
    team.delete()
    assert not Membership.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_admin_when_both_admins_are_demoted_at_once() -> None:
    """Two requests demote a team's two admins at the same moment: exactly one succeeds (PostgreSQL locks)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers (run with DATABASE_URL=postgres://...)")
    team = make_team("blue")
    admins = [add_member(make_user(name), team, Role.ADMIN) for name in ("ada", "bob")]
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def demote(pk: int) -> None:
        try:
            membership = Membership.objects.get(pk=pk)
            membership.role = Role.VIEWER
            start.wait(timeout=10)
            membership.save()
            outcomes.append("demoted")
        except LastAdminError:
            outcomes.append("refused")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=demote, args=(m.pk,)) for m in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["demoted", "refused"]
    assert Membership.objects.filter(team=team, role=Role.ADMIN).count() == 1
