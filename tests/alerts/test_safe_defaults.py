"""Safe defaults: the unreachable rule, the first channel as default, the no-one warning, marked tests, links."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from accounts.models import default_team_id
from alerts.defaults import add_unreachable_rule, first_becomes_default, notifies_no_one
from alerts.delivery import deliver_due
from alerts.models import AlertEvent, AlertRule, NotificationChannel
from alerts.senders import send_test
from metrics.defaults import REGIONS
from pollers.models import Source
from tests.alerts.support import PollDriver, make_channel, make_rule
from tests.factories import make_source, member
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db
SECRET = "whsec-0123456789abcdef-TOPSECRET"


@pytest.fixture
def hooks(settings: Any) -> Any:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.ALERTS_DELIVERY_CONCURRENCY = 1
    return settings


def test_it_fires_the_unreachable_rule_after_three_failed_polls(hooks: Any) -> None:
    source = make_source()
    rule = add_unreachable_rule(source)
    assert rule is not None
    polls = PollDriver(source)
    polls.fail()
    polls.fail()
    assert not AlertEvent.objects.exists()
    polls.fail()
    event = AlertEvent.objects.get()
    assert (event.kind, event.rule_name, event.severity) == ("fired", "us-east unreachable", "critical")


def test_it_adds_no_rule_when_configured_off(settings: Any) -> None:
    settings.ALERTS_DEFAULT_UNREACHABLE_RULE = False
    assert add_unreachable_rule(make_source()) is None


def test_it_watches_each_demo_source_seed_demo_creates_once(settings: Any) -> None:
    settings.ALERTS_DEFAULT_UNREACHABLE_RULE = True
    call_command("seed_demo", simulator_port=18001, stdout=StringIO())
    rules = {rule.source.slug: rule for rule in AlertRule.objects.select_related("source")}
    assert set(rules) == set(REGIONS)
    for slug, rule in rules.items():
        # The rule a source added from the dashboard gets, in the source's team.
        assert (rule.name, rule.scope, rule.kind, rule.count, rule.severity) == (
            f"{slug} unreachable",
            "source",
            "poll_failures",
            3,
            "critical",
        )
        assert rule.team_id == rule.source.team_id

    call_command("seed_demo", "--simulator-port", "18002", stdout=StringIO())  # a rerun: repoints, adds none
    assert AlertRule.objects.count() == len(REGIONS)


def test_it_gives_demo_sources_no_rule_when_configured_off(settings: Any) -> None:
    settings.ALERTS_DEFAULT_UNREACHABLE_RULE = False
    call_command("seed_demo", simulator_port=18001, stdout=StringIO())
    assert Source.objects.count() == len(REGIONS)
    assert not AlertRule.objects.exists()


def test_it_watches_a_source_added_in_the_admin(settings: Any, admin_client: Client) -> None:
    settings.ALERTS_DEFAULT_UNREACHABLE_RULE = True
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    posted = {
        "slug": "added",
        "name": "Added",
        "team": default_team_id(),
        "url": "http://127.0.0.1:9/status/added",
        "enabled": "on",
        "interval_seconds": 30,
        "timeout_seconds": 5,
        "tls_verify": "on",
    }
    response = admin_client.post("/admin/pollers/source/add/", posted)
    assert response.status_code == 302, response.content.decode()[-2000:]
    rule = AlertRule.objects.get()
    assert (rule.name, rule.source.slug, rule.team_id) == ("added unreachable", "added", default_team_id())

    source = Source.objects.get(slug="added")
    change = f"/admin/pollers/source/{source.pk}/change/"
    response = admin_client.post(change, {**posted, "name": "Renamed"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Source.objects.get(pk=source.pk).name == "Renamed"
    assert AlertRule.objects.count() == 1  # an edit is not an addition


def test_it_makes_only_the_first_channel_default() -> None:
    first = NotificationChannel(name="a", kind="email", email_to="a@example.com")
    first_becomes_default(first)
    first.save()
    second = NotificationChannel(name="b", kind="email", email_to="b@example.com")
    first_becomes_default(second)
    assert (first.is_default, second.is_default) == (True, False)


def test_it_makes_the_first_channel_default_in_the_admin(client: Client) -> None:
    from tests.factories import make_user

    client.force_login(make_user("root", superuser=True))
    client.post(
        "/admin/alerts/notificationchannel/add/",
        {"team": default_team_id(), "name": "mail", "kind": "email", "enabled": "on", "email_to": "ops@example.com"},
    )
    assert NotificationChannel.objects.get(name="mail").is_default


def test_it_says_when_a_rule_notifies_no_one() -> None:
    rule = make_rule(kind="circuit_open")
    assert "no channel" in notifies_no_one(rule)
    off = make_channel(kind="email", email_to="x@example.com", enabled=False)
    rule.channels.add(off)
    assert "disabled" in notifies_no_one(rule)
    make_channel(name="default", kind="email", email_to="d@example.com", is_default=True)
    assert notifies_no_one(rule) == ""


def test_it_marks_test_webhooks_as_tests_and_real_ones_not(hooks: Any) -> None:
    hooks.SITE_URL = "https://insights.example.com"
    source = make_source()
    with WebhookReceiver(secret=SECRET) as receiver:
        channel = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        send_test(channel)
        make_rule(kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, channels=[channel])
        PollDriver(source).ok(cpu_load=97)
        assert deliver_due() == 1
    test_hit, real_hit = receiver.received
    assert test_hit.headers["X-Insights-Delivery"] == "test"
    assert test_hit.json()["test"] is True
    assert test_hit.json()["headline"].startswith("[TEST] ")
    assert real_hit.headers["X-Insights-Delivery"].isdigit()
    assert real_hit.json()["test"] is False
    assert real_hit.json()["link"] == "https://insights.example.com/sources/us-east/"


def test_it_links_with_the_relative_path_without_site_url(hooks: Any, client: Client) -> None:
    hooks.SITE_URL = ""
    hooks.ALERTS_PUBLIC_URL = ""
    source = make_source()
    with WebhookReceiver(secret=SECRET) as receiver:
        channel = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        email = make_channel(name="mail", kind="email", email_to="ops@example.com")
        make_rule(kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, channels=[channel, email])
        PollDriver(source).ok(cpu_load=97)
        assert deliver_due() == 2
    link = receiver.received[0].json()["link"]
    assert link == "/sources/us-east/"
    assert mail.outbox[0].body.endswith("/sources/us-east/")
    assert member(client).get(link).status_code == 200, "the link opens the source's page to its team"
