"""The audit trail of object changes: who, what (fields before and after, secrets masked), when and from where,
for every audited model, whatever path changed it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from accounts.audit import MASK, masked_url
from accounts.audit_context import acting_as
from accounts.audit_retention import prune_audit
from accounts.audit_trail import REGISTRY
from accounts.models import ApiToken, AuditEvent, Membership
from alerts.models import NotificationChannel
from pollers.models import Source
from tests.factories import add_member, bearer, default_team, make_member, make_source, make_team, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


def events(object_type: str, action: str | None = None) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(object_type=object_type)
    if action:
        found = found.filter(action=action)
    return list(found.order_by("id"))


def test_it_names_only_models_and_fields_that_exist() -> None:
    for label, spec in REGISTRY.items():
        model = apps.get_model(label)
        names = {field.name for field in model._meta.concrete_fields}
        assert spec.secrets | spec.urls | spec.ignore <= names, label
        assert all(model._meta.get_field(name).many_to_many for name in spec.relations), label
    assert {"pollers.Source", "alerts.AlertRule", "alerts.NotificationChannel", "alerts.Silence"} <= set(REGISTRY)
    assert {"accounts.ApiToken", "accounts.Membership", "metrics.RetentionPolicy"} <= set(REGISTRY)


def test_it_records_an_api_change_with_the_token_ip_agent_and_request_id(client: Client) -> None:
    raw = make_token("ops", role="admin")
    body = {
        "slug": "made",
        "name": "Made",
        "url": "http://127.0.0.1:9/status?x=1",
        "headers": {"Authorization": "Bearer upstream-secret", "X-Trace": "on"},
    }
    response = client.post(
        "/api/v1/sources",
        data=body,
        content_type="application/json",
        HTTP_USER_AGENT="ci-bot/1.0",
        HTTP_X_REQUEST_ID="req-audit-1",
        REMOTE_ADDR="10.1.2.3",
        **bearer(raw),
    )
    assert response.status_code == 201, response.content
    (event,) = events("pollers.source", "create")
    token = ApiToken.objects.get()
    assert (event.actor_label, event.token_prefix, event.actor_id) == ("ops", token.prefix, token.user_id)
    assert (event.ip, event.user_agent, event.request_id) == ("10.1.2.3", "ci-bot/1.0", "req-audit-1")
    assert event.team_id == default_team().pk
    assert event.object_id == str(Source.objects.get(slug="made").pk)
    assert event.before is None
    assert event.after["name"] == "Made"
    assert event.after["headers"] == {"Authorization": MASK, "X-Trace": MASK}
    assert "upstream-secret" not in str(event.after)
    assert event.after["url"] == "http://127.0.0.1:9/status?x=1"


def test_it_masks_a_password_and_secret_query_values_in_a_url() -> None:
    masked = masked_url("https://user:hunter2@example.com/x?api_key=abc&page=2")
    assert masked == f"https://user:{MASK}@example.com/x?api_key={MASK}&page=2"


def test_it_records_only_the_changed_fields_and_the_deletion(client: Client) -> None:
    raw = make_token("ops", role="admin")
    source = make_source("us-east")
    response = client.patch(
        "/api/v1/sources/us-east", data={"name": "Renamed"}, content_type="application/json", **bearer(raw)
    )
    assert response.status_code == 200, response.content
    (update,) = events("pollers.source", "update")
    assert (update.before, update.after) == ({"name": "Us East"}, {"name": "Renamed"})
    assert update.detail["changed"] == ["name"]
    assert client.delete("/api/v1/sources/us-east", **bearer(raw)).status_code == 204
    (deleted,) = events("pollers.source", "delete")
    assert deleted.object_id == str(source.pk)
    assert deleted.before["slug"] == "us-east"
    assert deleted.after is None


def test_it_ignores_poll_health_saved_by_the_poller() -> None:
    source = make_source("us-east")
    source.consecutive_failures = 3
    source.last_error_message = "boom"
    source.save()
    source.save(update_fields=["last_polled_at"])
    assert events("pollers.source", "update") == []


def test_it_masks_channel_urls_and_secrets_but_says_they_changed() -> None:
    channel = NotificationChannel.objects.create(
        name="hook", kind="webhook", url="https://hooks.example.com/T0/B0/XXXXsecret", secret="s" * 20
    )
    (created,) = events("alerts.notificationchannel", "create")
    assert created.after["url"] == MASK
    assert created.after["secret"] == MASK
    channel.url = "https://hooks.example.com/T0/B0/YYYYsecret"
    channel.save()
    (changed,) = events("alerts.notificationchannel", "update")
    assert changed.detail["changed"] == ["url"]
    assert "secret" not in str(changed.before) + str(changed.after)


def test_it_records_a_rules_channels_as_a_change_of_the_rule() -> None:
    from alerts.models import AlertRule

    rule = AlertRule.objects.create(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=90)
    first = NotificationChannel.objects.create(name="a", kind="email", email_to="a@example.com")
    second = NotificationChannel.objects.create(name="b", kind="email", email_to="b@example.com")
    rule.channels.set([first, second])
    rule.channels.remove(first)
    changes = events("alerts.alertrule", "update")
    assert [(e.before, e.after) for e in changes] == [
        ({"channels": []}, {"channels": sorted([first.pk, second.pk])}),
        ({"channels": sorted([first.pk, second.pk])}, {"channels": [second.pk]}),
    ]
    assert {e.team_id for e in changes} == {rule.team_id}


def test_it_records_memberships_and_tokens_with_their_team() -> None:
    team = make_team("blue")
    make_member("bob", "admin", team)  # a team keeps an admin: ada's membership may then go
    user = make_member("ada", "viewer", team)
    membership = Membership.objects.get(user=user)
    membership.role = "admin"
    membership.save()
    token, _raw = ApiToken.issue(user, "ci", "viewer", team=team)
    adas_pk = str(membership.pk)
    membership.delete()
    adas = [e for e in events("accounts.membership") if e.object_id == adas_pk]
    assert [e.action for e in adas] == ["create", "update", "delete"]
    assert {e.team_id for e in events("accounts.membership")} == {team.pk}
    (token_event,) = events("accounts.apitoken")
    assert token_event.team_id == team.pk
    assert token_event.after["token_hash"] == MASK
    assert token.token_hash not in str(token_event.after)


def test_it_names_the_system_or_command_actor_outside_a_request() -> None:
    make_source("first")
    with acting_as("command:seed_demo"):
        make_source("second")
    first, second = events("pollers.source", "create")
    assert first.actor_label == "system"
    assert first.actor_id is None
    assert second.actor_label == "command:seed_demo"


def test_it_records_a_token_created_and_revoked_on_the_token_page(client: Client) -> None:
    user = make_member("ada")
    client.force_login(user)
    form: dict[str, Any] = {"name": "ci", "team": default_team().pk, "role": "viewer", "expires": "30"}
    client.post("/accounts/tokens/", form, HTTP_USER_AGENT="browser/1")
    token = ApiToken.objects.get()
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    created, revoked = events("accounts.apitoken")
    assert (created.action, revoked.action) == ("create", "delete")
    assert created.actor_label == "ada"
    assert created.user_agent == "browser/1"
    assert revoked.before["name"] == "ci"


def test_it_stays_append_only_and_prunes_by_the_retention_setting(settings: Any) -> None:
    make_source("us-east")
    old = AuditEvent.objects.get()
    with pytest.raises(PermissionError):
        old.save()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    settings.AUDIT_RETENTION_DAYS = 30
    assert prune_audit(timezone.now() + timedelta(days=29)) == 0
    assert prune_audit(timezone.now() + timedelta(days=31)) == 1
    assert not AuditEvent.objects.exists()


def test_it_prunes_the_audit_trail_in_the_retention_run(settings: Any, tmp_path: Any) -> None:
    from metrics.lifecycle.retention import apply_retention
    from metrics.stores import get_store

    make_source("us-east")
    settings.AUDIT_RETENTION_DAYS = 1
    lines: list[str] = []
    apply_retention(get_store(), tmp_path, now=timezone.now() + timedelta(days=2), progress=lines.append)
    assert not AuditEvent.objects.exists()
    assert any(line.startswith("audit trail: 1 event(s)") for line in lines)
    make_source("eu-west")
    apply_retention(get_store(), tmp_path, now=timezone.now() + timedelta(days=2), dry_run=True)
    assert AuditEvent.objects.count() == 1


def test_it_records_team_members_added_by_factories_too() -> None:
    team = make_team("red")
    add_member(make_member("bob"), team, "operator")
    assert len(events("accounts.membership", "create")) == 2


def test_it_records_a_retention_override_deleted_with_its_source() -> None:
    from metrics.lifecycle.models import RetentionPolicy

    source = make_source("us-east")
    policy = RetentionPolicy.objects.create(source=source, raw_days=1, minute_days=2, hour_days=3, day_days=4)
    with acting_as("test"):
        source.delete()  # the cascade deletes the policy after its source: its name cannot reach the source
    deleted = events("metrics.retentionpolicy", "delete")
    assert [event.object_id for event in deleted] == [str(policy.pk)]
    assert not RetentionPolicy.objects.filter(pk=policy.pk).exists()
