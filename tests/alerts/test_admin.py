"""The alerting admin: pages load, channel secrets and URLs stay hidden, bad rules are explained."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import AlertRule, Delivery, NotificationChannel, Silence
from tests.alerts.support import PollDriver, make_channel, make_rule
from tests.factories import PASSWORD, make_objective, make_source, make_user
from tests.races import needs_two_writers, waiting_at

pytestmark = pytest.mark.django_db
SECRET = "whsec-VERY-SECRET-signing-key"
HOOK = "https://hooks.slack.example.com/services/T000/B000/TOKENPART"
REASON_TAKEN = "The team already has a silence with this reason."


@pytest.fixture
def staff(client: Client) -> Client:
    make_user("admin", superuser=True, email="admin@example.com")
    client.login(username="admin", password=PASSWORD)
    return client


def test_it_shows_every_alerting_page(staff: Client) -> None:
    source = make_source()
    channel = make_channel(kind="email", email_to="ops@example.com")
    make_rule(
        name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, channels=[channel]
    )
    PollDriver(source).ok(cpu_load=99)
    for model in ("alertrule", "silence", "rulestate", "alertevent", "notificationchannel", "delivery"):
        response = staff.get(f"/admin/alerts/{model}/")
        assert response.status_code == 200, model
    assert "cpu_load &gt; 85" in staff.get("/admin/alerts/alertrule/").content.decode()
    assert staff.get("/admin/alerts/alertrule/add/").status_code == 200


def test_it_never_shows_a_channel_secret_or_webhook_url(staff: Client, settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = []
    hook = NotificationChannel.objects.create(name="hook", kind="webhook", url=HOOK, secret=SECRET)
    for url in ("/admin/alerts/notificationchannel/", f"/admin/alerts/notificationchannel/{hook.pk}/change/"):
        page = staff.get(url).content.decode()
        assert SECRET not in page
        assert "TOKENPART" not in page
    assert "https://hooks.slack.example.com/…" in staff.get("/admin/alerts/notificationchannel/").content.decode()


def test_it_keeps_the_secret_and_url_when_left_blank(staff: Client) -> None:
    hook = NotificationChannel.objects.create(name="hook", kind="webhook", url=HOOK, secret=SECRET)
    response = staff.post(
        f"/admin/alerts/notificationchannel/{hook.pk}/change/",
        {"team": hook.team_id, "name": "renamed", "kind": "webhook", "enabled": "on", "email_to": "", "url": ""}
        | {"secret": ""},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    hook.refresh_from_db()
    assert (hook.name, hook.url, hook.secret) == ("renamed", HOOK, SECRET)


def test_it_explains_a_bad_rule_in_the_form(staff: Client) -> None:
    response = staff.post(
        "/admin/alerts/alertrule/add/",
        {
            "name": "redis",
            "enabled": "on",
            "severity": "warning",
            "scope": "all",
            "kind": "field",
            "path": "results..redis",
            "operator": "==",
            "value": "down",
            "fire_after": 3,
            "for_seconds": 0,
            "resolve_after": 2,
            "renotify_interval_seconds": 3600,
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "has an empty segment" in page
    assert "a string needs double quotes: &quot;down&quot;" in page
    assert not AlertRule.objects.exists()


def test_it_creates_and_edits_a_burn_rate_rule_in_the_admin(staff: Client) -> None:
    # Its objective and window pairs were not in the admin's fieldsets: a burn-rate rule could not be made there.
    source = make_source(tags=["prod"])
    objective = make_objective(sources=[source])
    sent = {
        "team": source.team_id,
        "name": "budget burning",
        "enabled": "on",
        "severity": "critical",
        "scope": "source",  # stale: a burn-rate rule watches its objective's sources
        "source": source.pk,
        "kind": "burn_rate",
        "objective": objective.pk,
        "burn_conditions": '[["1h", "5m", 14.4, "page"]]',
        "metric": "cpu_load",  # another kind's: cleared
        "fire_after": 1,
        "for_seconds": 0,
        "resolve_after": 1,
        "renotify_interval_seconds": 3600,
    }
    add_page = staff.get("/admin/alerts/alertrule/add/").content.decode()
    assert 'name="objective"' in add_page
    assert 'name="burn_conditions"' in add_page
    response = staff.post("/admin/alerts/alertrule/add/", sent)
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = AlertRule.objects.get()
    assert (rule.objective, rule.burn_conditions, rule.metric) == (objective, [["1h", "5m", 14.4, "page"]], "")
    assert (rule.scope, rule.source, rule.tag) == ("all", None, "")

    edited = {**sent, "burn_conditions": ""}  # empty: the standard pairs
    assert staff.post(f"/admin/alerts/alertrule/{rule.pk}/change/", edited).status_code == 302
    rule.refresh_from_db()
    assert (rule.burn_conditions, rule.objective) == ([], objective)


def test_it_retries_failed_deliveries_on_request(staff: Client, settings: Any) -> None:
    settings.ALERTS_DELIVERY_MODE = "command"
    source = make_source()
    channel = make_channel(kind="email", email_to="ops@example.com")
    make_rule(
        name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, channels=[channel]
    )
    PollDriver(source).ok(cpu_load=99)
    Delivery.objects.update(status="failed", attempts=6, last_error="HTTP 500")
    delivery = Delivery.objects.get()
    response = staff.post(
        "/admin/alerts/delivery/", {"action": "retry_now", "_selected_action": [delivery.pk]}, follow=True
    )
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_it_sends_a_test_notification_from_the_admin(staff: Client, settings: Any) -> None:
    from django.core import mail

    from tests.webhook_receiver import WebhookReceiver

    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    email = make_channel(kind="email", email_to="ops@example.com")
    with WebhookReceiver(secret=SECRET) as receiver, WebhookReceiver(status=500) as broken:
        hook = make_channel(kind="webhook", url=receiver.url(), secret=SECRET)
        bad = make_channel(kind="slack", url=broken.url())
        response = staff.post(
            "/admin/alerts/notificationchannel/",
            {"action": "send_test", "_selected_action": [email.pk, hook.pk, bad.pk]},
            follow=True,
        )
    page = response.content.decode().lower()  # the admin capitalizes messages
    assert f'<li class="success">{hook.name}: test notification sent.</li>' in page
    assert f'<li class="error">{bad.name}: http 500</li>' in page
    assert [m.subject for m in mail.outbox] == ["[TEST] [FIRING] warning: Test notification on test-source"]
    [hit] = receiver.received
    assert hit.signature_ok is True
    assert hit.json()["event"]["value"]["test"] is True
    assert hit.json()["test"] is True
    assert hit.headers["X-Insights-Delivery"] == "test"
    # Each test send is recorded as a test delivery, with no alert event behind it; nothing else is queued.
    assert not Delivery.objects.filter(is_test=False).exists()
    outcomes = {d.channel_id: (d.status, d.last_error) for d in Delivery.objects.filter(is_test=True, event=None)}
    assert outcomes == {
        email.pk: ("succeeded", ""),
        hook.pk: ("succeeded", ""),
        bad.pk: ("failed", "HTTP 500"),
    }


def silence_fields(source: Any, reason: str = "deploy") -> dict[str, Any]:
    """The admin's add-silence form, filled in for ``source``."""
    return {
        "team": source.team_id,
        "source": source.pk,
        "tag": "",
        "starts_at_0": "2026-12-01",
        "starts_at_1": "01:00:00",
        "ends_at_0": "2026-12-01",
        "ends_at_1": "02:00:00",
        "reason": reason,
    }


def test_it_refuses_in_the_admin_a_reason_another_silence_of_the_team_has(staff: Client) -> None:
    fields = silence_fields(make_source())
    assert staff.post("/admin/alerts/silence/add/", fields).status_code == 302
    again = staff.post("/admin/alerts/silence/add/", fields)
    assert again.status_code == 200  # the form again, with its error: not a server error
    assert again.context["adminform"].form.errors["reason"] == [REASON_TAKEN]
    assert list(Silence.objects.values_list("reason", flat=True)) == ["deploy"]


@pytest.mark.django_db(transaction=True)
def test_it_answers_the_admin_who_loses_a_race_for_a_reason_with_the_forms_error(staff: Client) -> None:
    # Two "add silence" submissions of one reason for one team at once: each form checks the reason before the
    # other's silence is committed, so both pass, and the constraint one_silence_reason_per_team refuses the
    # second at its INSERT. That one gets the form's own error (a 500 before), and the first silence stays.
    needs_two_writers()
    source = make_source()
    add = partial(staff.post, "/admin/alerts/silence/add/", silence_fields(source))
    with waiting_at('INSERT INTO "alerts_silence" ', add) as race:
        first = Silence.objects.create(
            team_id=source.team_id, source=source, ends_at=timezone.now() + timedelta(hours=1), reason="deploy"
        )
    assert race.answer.status_code == 200
    assert race.answer.context["adminform"].form.errors["reason"] == [REASON_TAKEN]
    assert 'value="deploy"' in race.answer.content.decode()  # what was typed is kept
    assert list(Silence.objects.values_list("pk", "reason", "ends_at")) == [(first.pk, "deploy", first.ends_at)]


@pytest.mark.django_db(transaction=True)
def test_it_does_not_bring_back_a_silence_another_admin_deleted_while_it_was_edited(staff: Client) -> None:
    # The edit's request read the silence, then another admin deleted it and committed before the edit's
    # UPDATE: the UPDATE finds no row. Django's save would then INSERT it again under its old id, and the
    # page said it was changed; the edit now saves nothing and says the silence is gone.
    needs_two_writers()
    source = make_source()
    silence = Silence.objects.create(
        team_id=source.team_id, source=source, ends_at=timezone.now() + timedelta(hours=1), reason="deploy"
    )
    edit = partial(staff.post, f"/admin/alerts/silence/{silence.pk}/change/", silence_fields(source, "deploy 2"))
    with waiting_at('UPDATE "alerts_silence" ', edit) as race:
        Silence.objects.filter(pk=silence.pk).delete()
    assert race.answer.status_code == 302
    assert race.answer["Location"] == "/admin/alerts/silence/"
    assert not Silence.objects.exists()
    shown = [str(message) for message in staff.get("/admin/alerts/silence/").context["messages"]]
    assert any("deleted" in text and "nothing was saved" in text for text in shown), shown
