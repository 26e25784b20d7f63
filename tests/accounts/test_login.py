"""Login, logout, password change and reset through allauth's pages, and their audit events."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts.models import AuditEvent
from tests.accounts.support import LOGIN, post_login
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_it_logs_in_with_username_and_logs_out(client: Client) -> None:
    make_user("ops", email="ops@example.com")
    assert client.get("/").status_code == 302
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert "Log in" in page.content.decode()
    response = post_login(client, "ops")
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))
    assert actions == [("login", "ops"), ("logout", "ops")]
    assert AuditEvent.objects.get(action="login").ip == "127.0.0.1"


def test_it_logs_in_with_the_email_address_too(client: Client) -> None:
    make_user("ops", email="ops@example.com")
    assert post_login(client, "OPS@example.com").status_code == 302


def test_it_refuses_a_wrong_password_and_audits_it(client: Client) -> None:
    make_user("ops")
    response = post_login(client, "ops", "not-the-password", HTTP_USER_AGENT="curl/8", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 400  # the form again, refused
    assert "Please enter a correct username and password" in response.content.decode()
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.actor_label, event.user_agent, event.actor) == ("ops", "curl/8", None)
    assert event.request_id
    assert "not-the-password" not in str(event.detail)


def test_it_changes_the_password(client: Client) -> None:
    user = make_user("ops")
    client.force_login(user)
    new = "another-long-password-42"
    response = client.post("/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert client.get("/").status_code == 200  # this session stays logged in
    assert AuditEvent.objects.filter(action="password_changed", actor=user).exists()


def test_it_resets_the_password_by_email_link(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = make_user("ops", email="ops@example.com")
    response = client.post("/accounts/password/reset/", {"email": "ops@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link is not None, mail.outbox[0].body
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    new = "reset-long-password-77"
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    done = client.post(action, {"password1": new, "password2": new})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert post_login(Client(), "ops", new).status_code == 302
    assert AuditEvent.objects.filter(action="password_reset", actor=user).exists()


def test_it_sends_no_reset_mail_for_an_unknown_address(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_user("ops", email="ops@example.com")
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302  # the same answer: no account enumeration
    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)


def test_it_sends_the_admin_login_through_the_same_flow(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    make_user("boss", staff=True)
    assert post_login(client, "boss").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_it_keeps_the_old_names_of_the_login_pages() -> None:
    from django.urls import reverse

    assert reverse("login") == LOGIN
    assert reverse("logout") == "/accounts/logout/"
    assert reverse("password_change") == "/accounts/password/"


def test_it_refuses_to_change_an_audit_event() -> None:
    event = AuditEvent.objects.create(action="login", actor_label="ops")
    event.action = "logout"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "login"


def test_it_masks_secrets_in_object_changes() -> None:
    from accounts import audit

    event = audit.record(
        "channel_changed",
        actor_label="ops",
        object_type="alerts.channel",
        object_id="7",
        before={"name": "pager", "config": {"webhook_secret": "s3cr3t", "url": "https://x"}},
        after={"name": "pager", "password": "hunter2", "headers": [{"Authorization": "Bearer abc"}]},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert "s3cr3t" not in str(stored.before)
    assert "hunter2" not in str(stored.after)
    assert "Bearer abc" not in str(stored.after)
    assert stored.before["config"]["url"] == "https://x"
    assert (stored.object_type, stored.object_id) == ("alerts.channel", "7")


def test_it_prunes_audit_events_only_through_retention() -> None:
    from datetime import timedelta

    from django.utils import timezone

    old = AuditEvent.objects.create(action="login", actor_label="ops", created_at=timezone.now() - timedelta(days=400))
    new = AuditEvent.objects.create(action="login", actor_label="ops")
    assert AuditEvent.objects.prune_before(timezone.now() - timedelta(days=365)) == 1
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [new.pk]
    assert not AuditEvent.objects.filter(pk=old.pk).exists()


def test_it_asks_for_a_confirmed_address_when_verification_is_mandatory(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    make_user("ops", email="ops@example.com")
    response = post_login(client, "ops")
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # not logged in before the address is confirmed
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[0].body)
    assert link is not None, mail.outbox[0].body
    assert client.get(link.group(1)).status_code == 200
    assert client.post(link.group(1)).status_code == 302
    assert post_login(client, "ops").status_code == 302
    assert client.get("/").status_code == 200


def test_it_logs_in_without_a_confirmed_address_when_verification_is_optional(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    make_user("ops", email="ops@example.com")
    assert post_login(client, "ops").status_code == 302
    assert client.get("/").status_code == 200
