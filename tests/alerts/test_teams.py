"""Alerting stays inside its team: rules, silences and default channels; notification links enforce access."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from alerts.defaults import first_becomes_default, notifies_no_one
from alerts.engine import evaluate_poll
from alerts.models import AlertEvent, AlertRule, NotificationChannel, RuleState, Silence
from alerts.senders import link
from metrics.stores.base import RecordResult
from pollers.models import Source
from pollers.outcome import PollOutcome
from tests.alerts.support import make_channel, make_rule
from tests.factories import add_member, make_objective, make_source, make_team, make_user
from tests.pollers.support import form_rows

pytestmark = pytest.mark.django_db


def test_it_applies_a_rule_of_scope_all_or_tag_to_its_own_teams_sources_only() -> None:
    blue, red = make_team("blue"), make_team("red")
    mine = make_source("blue-api", team=blue, tags=["prod"])
    theirs = make_source("red-api", team=red, tags=["prod"])
    every = make_rule(team=blue, scope="all", kind="circuit_open")
    tagged = make_rule(team=blue, scope="tag", tag="prod", kind="circuit_open", name="tagged")
    assert every.applies_to(mine)
    assert tagged.applies_to(mine)
    assert not every.applies_to(theirs)
    assert not tagged.applies_to(theirs)
    assert not [rule for rule in AlertRule.objects.all() if rule.applies_to(theirs)]


def test_it_never_lets_a_teams_tag_silence_quiet_another_teams_source() -> None:
    blue, red = make_team("blue"), make_team("red")
    make_source("blue-api", team=blue, tags=["prod"])
    theirs = make_source("red-api", team=red, tags=["prod"])
    Silence.objects.create(team=blue, tag="prod", ends_at=timezone.now() + timedelta(hours=1), reason="deploy")
    assert not Silence.objects.covering(theirs)
    assert Silence.objects.covered_slugs() == {"blue-api"}


def test_it_tells_the_silenced_sources_of_the_teams_asked_only() -> None:
    blue, red = make_team("blue"), make_team("red")
    make_source("blue-api", team=blue, tags=["prod"])
    make_source("blue-db", team=blue)
    theirs = make_source("red-api", team=red, tags=["prod"])
    later = timezone.now() + timedelta(hours=1)
    Silence.objects.create(team=blue, tag="prod", ends_at=later, reason="deploy")
    Silence.objects.create(team=red, source=theirs, ends_at=later, reason="move")
    assert Silence.objects.covered_slugs(teams=[blue.pk]) == {"blue-api"}
    assert Silence.objects.covered_slugs(teams=[red.pk]) == {"red-api"}
    assert Silence.objects.covered_slugs(teams=[]) == set()
    assert Silence.objects.covered_slugs() == {"blue-api", "red-api"}


def test_it_tells_no_source_silenced_by_the_team_it_left() -> None:
    # covering (what the engine asks) already said no; covered_slugs (what the pages show) still said yes.
    blue, red = make_team("blue"), make_team("red")
    moved = make_source("blue-api", team=blue)
    Silence.objects.create(team=blue, source=moved, ends_at=timezone.now() + timedelta(hours=1), reason="deploy")
    moved.team = red
    moved.save()
    assert not Silence.objects.covering(moved)
    assert Silence.objects.covered_slugs() == set()
    assert Silence.objects.covered_slugs(teams=[blue.pk, red.pk]) == set()


def test_it_keeps_default_channels_per_team() -> None:
    blue, red = make_team("blue"), make_team("red")
    make_channel(team=blue, kind="email", email_to="blue@example.com")
    red_channel = NotificationChannel(team=red, name="red mail", kind="email", email_to="red@example.com")
    first_becomes_default(red_channel)
    assert red_channel.is_default  # red's first channel, though blue has one
    rule = make_rule(team=red, scope="all", kind="circuit_open")
    assert "no enabled default channel" in notifies_no_one(rule)  # blue's default does not count for red


@pytest.fixture
def fired(settings: Any) -> AlertEvent:
    settings.SITE_URL = "https://insights.example.com"
    source = make_source("blue-api", team=make_team("blue"))
    rule = make_rule(team=source.team, scope="source", source=source, kind="circuit_open")
    return AlertEvent.objects.create(
        rule=rule,
        rule_name=rule.name,
        source=source,
        kind="fired",
        severity="warning",
        condition="circuit open",
        message="circuit open on blue-api",
        occurred_at=timezone.now(),
    )


def test_it_links_notifications_to_a_page_only_the_team_may_open(client: Client, fired: AlertEvent) -> None:
    url = link(fired)
    assert url == "https://insights.example.com/sources/blue-api/"
    path = url.removeprefix("https://insights.example.com")
    assert client.get(path)["Location"].startswith("/accounts/login/")  # anonymous: log in first
    stranger = make_user("stranger", password=None)
    add_member(stranger, make_team("red"), Role.ADMIN)
    client.force_login(stranger)
    assert client.get(path).status_code == 404  # not a member: as if the source did not exist
    member = make_user("member", password=None)
    add_member(member, fired.source.team, Role.VIEWER)
    client.force_login(member)
    assert client.get(path).status_code == 200


def test_it_writes_no_state_of_the_old_teams_rule_on_a_source_moved_while_its_poller_held_it() -> None:
    # The poller polls from the source it loaded until its next reload: a poll just after a move evaluated
    # the old team's rule and wrote its state (and its firing), after the move had dropped that team's states.
    red, blue = make_team("red"), make_team("blue")
    hot = make_source("hot", team=red)
    make_rule(name="red cpu", team=red, kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    polled = Source.objects.get(pk=hot.pk)  # the poller's copy
    hot.team = blue
    hot.save()

    now = timezone.now()
    result = RecordResult(changed=True, hash="h", metrics={"cpu_load": 95.0}, sequence=1, diff=[])
    evaluate_poll(polled, PollOutcome("hot", "p1", now, ok=True, latency_ms=1.0, status_code=200, record=result))

    assert not RuleState.objects.filter(source=hot).exists()
    assert not AlertEvent.objects.filter(source=hot).exists()
    # The team's own rule still is: evaluated with the source as the poller reloads it.
    make_rule(name="blue cpu", team=blue, kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    evaluate_poll(Source.objects.get(pk=hot.pk), PollOutcome("hot", "p2", now, ok=True, status_code=200, record=result))
    assert list(RuleState.objects.filter(source=hot).values_list("rule__name", "status")) == [("blue cpu", "firing")]


def test_it_refuses_a_rule_watching_another_teams_source(admin_client: Client) -> None:
    # A superuser's admin form offers every team's sources: the model's own rule refuses the mix.
    blue, red = make_team("blue"), make_team("red")
    theirs = make_source("red-api", team=red)
    response = admin_client.post(
        "/admin/alerts/alertrule/add/",
        {
            "team": blue.pk,
            "name": "watch red",
            "enabled": "on",
            "severity": "warning",
            "scope": "source",
            "source": theirs.pk,
            "kind": "circuit_open",
            "fire_after": 3,
            "for_seconds": 0,
            "resolve_after": 2,
            "renotify_interval_seconds": 3600,
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["source"] == ["The source belongs to another team."]
    assert not AlertRule.objects.exists()


def test_it_moves_the_rules_watching_a_source_alone_with_it_to_its_new_team(
    admin_client: Client, allow_loopback: Any
) -> None:
    red, blue = make_team("red"), make_team("blue")
    moved = make_source("hot", team=red)
    pager = make_channel(team=red, name="red pager", kind="email", email_to="ops@example.com")
    alone = make_rule(team=red, name="hot down", scope="source", source=moved, kind="circuit_open", channels=[pager])
    every = make_rule(team=red, name="any down", scope="all", kind="circuit_open")
    make_rule(team=blue, name="hot down", scope="all", kind="circuit_open")  # the name is taken in blue
    RuleState.objects.create(rule=alone, source=moved, status="firing", firing_since=timezone.now())

    data = {
        "team": blue.pk,
        "slug": "hot",
        "name": moved.name,
        "url": moved.url,
        "enabled": "on",
        "interval_seconds": moved.interval_seconds,
        "timeout_seconds": moved.timeout_seconds,
        "tls_verify": "on",
        **form_rows("metric_paths", moved.metric_paths),
    }
    response = admin_client.post(f"/admin/pollers/source/{moved.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]

    alone.refresh_from_db()
    # Blue's rule now, named freely in blue, heard by blue's default channels rather than red's pager.
    assert (alone.team, alone.name, alone.source, list(alone.channels.all())) == (blue, "hot down (2)", moved, [])
    assert alone.applies_to(Source.objects.get(pk=moved.pk))
    assert RuleState.objects.get(rule=alone).status == "firing"  # the alert goes on, in blue, until it resolves
    every.refresh_from_db()
    assert every.team == red  # a rule of all red's sources stays red's
    strays = AlertRule.objects.filter(source__isnull=False).exclude(team_id=F("source__team_id"))
    assert not strays.exists()


def test_it_keeps_a_burn_rate_rule_with_its_objective_when_one_of_its_sources_moves() -> None:
    red, blue = make_team("red"), make_team("blue")
    moved, kept = make_source("hot", team=red), make_source("warm", team=red)
    objective = make_objective(team=red, sources=[moved, kept])
    pager = make_channel(team=red, name="red pager", kind="email", email_to="ops@example.com")
    burn = make_rule(team=red, name="hot burn", kind="burn_rate", objective=objective, channels=[pager])

    moved.team = blue
    moved.save()

    burn.refresh_from_db()
    # Still red's, on red's objective and channels, watching what the objective still covers; no blue source named.
    assert (burn.team, burn.objective, list(burn.channels.all()), burn.enabled) == (red, objective, [pager], True)
    assert (burn.scope, burn.source) == ("all", None)
    assert burn.applies_to(kept)
    assert not burn.applies_to(moved)
    burn.full_clean()  # and it can be edited and saved again
