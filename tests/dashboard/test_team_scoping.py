"""The dashboard shows the current team's objects, offers its choices, and files what it makes under it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role, Team
from alerts.models import AlertEvent, AlertRule, NotificationChannel, RuleState, Silence
from dashboard.views import overview as overview_view
from metrics.stores import get_store
from metrics.stores.base import Snapshot
from pollers.models import Source
from tests.factories import add_member, make_source, make_team, make_user, payload, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def blue_admin(client: Client) -> Client:
    blue, red = make_team("blue"), make_team("red")
    for team in (blue, red):
        source = make_source(f"{team.slug}-api", team=team)
        record(source, payload(), timezone.now())
        NotificationChannel.objects.create(team=team, name=f"{team.slug} mail", kind="email", email_to="x@example.com")
        rule = AlertRule.objects.create(
            team=team, name=f"{team.slug} hot", kind="metric", metric="cpu_load", operator=">", threshold=90
        )
        now = timezone.now()
        RuleState.objects.create(rule=rule, source=source, status="firing", firing_since=now, pending_since=now)
        AlertEvent.objects.create(
            rule=rule,
            rule_name=rule.name,
            source=source,
            kind="fired",
            severity="warning",
            condition="cpu_load > 90",
            message=f"{team.slug} event",
            occurred_at=now,
        )
        Silence.objects.create(team=team, source=source, ends_at=now + timedelta(hours=1), reason=f"{team.slug} quiet")
    user = make_user("ada", password=None)
    add_member(user, blue, Role.ADMIN)
    client.force_login(user)
    return client


def test_it_lists_only_the_current_teams_objects(blue_admin: Client) -> None:
    overview = blue_admin.get("/").content.decode()
    assert "blue-api" in overview
    assert "red-api" not in overview
    alerts = blue_admin.get("/alerts/").content.decode()
    for red_thing in ("red-api", "red hot", "red mail", "red event", "red quiet"):
        assert red_thing not in alerts
    for blue_thing in ("blue hot", "blue mail", "blue quiet"):
        assert blue_thing in alerts
    cards = blue_admin.get("/overview/cards.json?source=red-api&source=blue-api").json()["cards"]
    assert list(cards) == ["blue-api"]
    assert list(blue_admin.get("/overview/sparklines.json").json()["series"]) == ["blue-api"]


def test_it_reads_only_the_current_teams_snapshots_from_the_store(
    blue_admin: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = get_store()
    asked: list[list[str]] = []

    class Spy:
        """The real store, noting which sources the overview asks it about."""

        def latest_of(self, sources: Iterable[str]) -> dict[str, Snapshot]:
            asked.append(list(sources))
            return store.latest_of(asked[-1])

    monkeypatch.setattr(overview_view, "get_store", Spy)
    assert "blue-api" in blue_admin.get("/").content.decode()
    assert list(blue_admin.get("/overview/cards.json?source=red-api&source=blue-api").json()["cards"]) == ["blue-api"]
    assert asked == [["blue-api"], ["blue-api"]]


def test_it_offers_only_the_teams_sources_and_channels_in_a_rules_form(blue_admin: Client) -> None:
    form = blue_admin.get("/alerts/rules/new/").content.decode()
    assert "Blue Api" in form
    assert "blue mail" in form
    assert "Red Api" not in form
    assert "red mail" not in form
    red_source = Source.objects.get(slug="red-api")
    red_channel = NotificationChannel.objects.get(name="red mail")
    response = blue_admin.post(
        "/alerts/rules/new/",
        {
            "name": "sneaky",
            "severity": "warning",
            "scope": "source",
            "source": red_source.pk,
            "kind": "poll_failures",
            "count": 3,
            "fire_after": 1,
            "resolve_after": 1,
            "channels": [red_channel.pk],
            "enabled": "on",
        },
    )
    assert response.status_code == 400
    assert not AlertRule.objects.filter(name="sneaky").exists()


def test_it_files_new_objects_under_the_current_team(blue_admin: Client, allow_loopback: object) -> None:
    blue = Team.objects.get(slug="blue")
    blue_admin.post(
        "/sources/new/",
        {"name": "New One", "slug": "new-one", "url": "http://127.0.0.1:9/status", "region": "eu", "tags": ""}
        | {"interval_seconds": 60, "timeout_seconds": 5, "enabled": "on"},
    )
    source = Source.objects.get(slug="new-one")
    assert source.team == blue
    assert AlertRule.objects.get(source=source).team == blue  # the default "unreachable" rule too
    blue_admin.post("/alerts/channels/new/", {"name": "pager", "kind": "email", "email_to": "p@example.com"})
    assert NotificationChannel.objects.get(name="pager").team == blue
    blue_admin.post("/alerts/silence/blue-api/", {"duration": "1h"})
    assert Silence.objects.filter(source__slug="blue-api").count() == 2
    assert set(Silence.objects.filter(source__slug="blue-api").values_list("team__slug", flat=True)) == {"blue"}


def test_it_tells_a_user_without_a_team_how_to_join_one(client: Client) -> None:
    make_source("blue-api", team=make_team("blue"))
    client.force_login(make_user("loner", password=None))
    page = client.get("/").content.decode()
    assert 'id="no-team"' in page
    assert "blue-api" not in page
    assert client.get("/sources/new/").status_code == 403
