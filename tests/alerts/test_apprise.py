"""Apprise channels end to end: a firing alert reaches loopback json:// and form:// receivers, the scheme
allowlist, the SSRF guard on every named host at save and at send, the URL encrypted at rest and masked
in the admin, logs and errors, and the admin's test notification recorded as a test delivery."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from accounts.models import default_team_id
from alerts.delivery import deliver_due
from alerts.models import AlertRule, Delivery, NotificationChannel
from devops_insights import crypto
from tests.alerts.support import PollDriver, make_rule
from tests.factories import make_source, make_user
from tests.webhook_receiver import WebhookReceiver

PASSWORD = "S3cret-Pa55word-xyz"
PATH_TOKEN = "T0KEN-IN-PATH-4f9e"
KEY = Fernet.generate_key().decode()


@pytest.fixture
def apprise_settings(settings: Any) -> Any:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.APPRISE_ALLOW_GENERIC = True
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    settings.ALERTS_DELIVERY_CONCURRENCY = 1
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 2
    return settings


def admin_client() -> Client:
    client = Client()
    client.force_login(make_user("admin", superuser=True))
    return client


def apprise_channel(url: str, name: str = "apprise") -> NotificationChannel:
    channel = NotificationChannel(name=name, kind="apprise")
    channel.set_apprise_url(url)
    channel.full_clean()
    channel.save()
    return channel


def secret_url(receiver: WebhookReceiver, scheme: str = "json") -> str:
    return f"{scheme}://alerts:{PASSWORD}@127.0.0.1:{receiver.port}/hook/{PATH_TOKEN}"


def fire(channel: NotificationChannel, severity: str = "critical") -> AlertRule:
    source = make_source()
    rule = make_rule(
        name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, severity=severity
    )
    rule.channels.set([channel])
    PollDriver(source).ok(cpu_load=97)
    return rule


@pytest.mark.django_db
def test_it_delivers_a_firing_alert_to_a_json_receiver_with_the_documented_body(apprise_settings: Any) -> None:
    with WebhookReceiver() as receiver:
        channel = apprise_channel(secret_url(receiver))
        fire(channel)
        assert deliver_due() == 1
    [hit] = receiver.received
    assert hit.path == f"/hook/{PATH_TOKEN}"
    assert hit.headers["Content-Type"].startswith("application/json")
    document = hit.json()
    assert document["version"] == "1.0"
    assert document["type"] == "failure"  # critical and firing
    assert document["title"] == "[FIRING] critical: cpu on us-east"
    message = document["message"]
    assert "Condition: cpu_load > 85" in message
    assert '"value": 97' in message
    assert "Source: us-east" in message
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error, delivery.is_test) == ("succeeded", 1, "", False)


@pytest.mark.django_db
def test_it_delivers_to_a_form_receiver(apprise_settings: Any) -> None:
    with WebhookReceiver() as receiver:
        channel = apprise_channel(secret_url(receiver, "form"))
        fire(channel, severity="warning")
        assert deliver_due() == 1
    [hit] = receiver.received
    assert hit.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    fields = {name: values[0] for name, values in parse_qs(hit.body.decode()).items()}
    assert fields["title"] == "[FIRING] warning: cpu on us-east"
    assert fields["type"] == "warning"
    assert "Condition: cpu_load > 85" in fields["message"]
    assert Delivery.objects.get().status == "succeeded"


@pytest.mark.django_db
def test_it_records_a_failed_send_without_the_urls_secrets(
    apprise_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver(status=500) as receiver:
        channel = apprise_channel(secret_url(receiver))
        fire(channel)
        deliver_due()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("apprise json:// failed")
    assert "500" in delivery.last_error
    for text in (caplog.text, delivery.last_error):
        assert PASSWORD not in text
        assert PATH_TOKEN not in text


@pytest.mark.django_db
def test_it_stores_the_url_encrypted_and_reads_it_with_any_key_of_the_ring(apprise_settings: Any) -> None:
    with WebhookReceiver() as receiver:
        url = secret_url(receiver)
        channel = apprise_channel(url)
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(NotificationChannel._meta.db_table)
        cursor.execute("SELECT * FROM " + table + " WHERE id = %s", [channel.pk])  # noqa: S608 - a model's table
        row = " ".join(str(value) for value in cursor.fetchone())
    assert PASSWORD not in row
    assert PATH_TOKEN not in row
    assert channel.apprise_target == "json://127.0.0.1"
    # Rotation: a new key first, the old one after it: the stored URL still reads.
    apprise_settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), KEY]
    assert NotificationChannel.objects.get(pk=channel.pk).apprise_url() == url
    apprise_settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnavailable) as caught:
        NotificationChannel.objects.get(pk=channel.pk).apprise_url()
    assert PASSWORD not in str(caught.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "json://169.254.169.254/latest/meta-data/",
        "form://user:PWSECRET@169.254.169.254:8080/x",
        "ntfys://169.254.169.254/topic",
        "json://example.invalid/hook?host=169.254.169.254",
    ],
)
def test_it_refuses_a_metadata_address_at_save(apprise_settings: Any, url: str) -> None:
    channel = NotificationChannel(name="meta", kind="apprise")
    with pytest.raises(ValidationError) as caught:
        channel.set_apprise_url(url)
    message = " ".join(caught.value.message_dict["apprise_url"])
    assert "169.254.169.254" in message
    assert "PWSECRET" not in message
    assert not NotificationChannel.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_metadata_address_at_send(apprise_settings: Any) -> None:
    # Stored before the rule changed (or written around the form): the send-time check still refuses.
    channel = NotificationChannel.objects.create(
        name="meta",
        kind="apprise",
        apprise_url_encrypted=crypto.encrypt(f"json://u:{PASSWORD}@169.254.169.254/{PATH_TOKEN}"),
        apprise_target="json://169.254.169.254",
    )
    fire(channel)
    deliver_due()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("refused: json:// host 169.254.169.254")
    assert PASSWORD not in delivery.last_error
    assert PATH_TOKEN not in delivery.last_error


@pytest.mark.django_db
def test_it_refuses_a_loopback_receiver_unless_allowed(apprise_settings: Any) -> None:
    apprise_settings.POLLER_ALLOWED_PRIVATE_HOSTS = []
    with pytest.raises(ValidationError):
        NotificationChannel(name="local", kind="apprise").set_apprise_url("json://127.0.0.1:9/hook")


@pytest.mark.django_db
def test_it_allows_generic_schemes_only_when_the_setting_says_so(apprise_settings: Any) -> None:
    apprise_settings.APPRISE_ALLOW_GENERIC = False
    for scheme in ("json", "xml", "form", "jsons"):
        with pytest.raises(ValidationError) as caught:
            NotificationChannel(name="generic", kind="apprise").set_apprise_url(f"{scheme}://127.0.0.1:9/hook")
        assert "APPRISE_ALLOW_GENERIC" in caught.value.message_dict["apprise_url"][0]
    # Vendor services need no setting; their token authority is no host to resolve.
    channel = apprise_channel("slack://T1234ABCD/B1234ABCD/abcdefghijklmnopqrstuvwx", name="slack")
    assert channel.apprise_target == "slack://"
    # A scheme off the allowlist (a local desktop notifier, a syslog server) is refused.
    for url in ("syslog://127.0.0.1", "mailto://user:pw@127.0.0.1", "nonsense://x"):
        with pytest.raises(ValidationError):
            NotificationChannel(name="other", kind="apprise").set_apprise_url(url)


@pytest.mark.django_db
def test_it_needs_an_encryption_key_to_store_a_url(apprise_settings: Any) -> None:
    apprise_settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ValidationError) as caught:
        NotificationChannel(name="nokey", kind="apprise").set_apprise_url("slack://T1/B1/abcdefghijklmnop")
    assert "FIELD_ENCRYPTION_KEY" in caught.value.message_dict["apprise_url"][0]
    with pytest.raises(ValidationError):
        NotificationChannel(name="nourl", kind="apprise").full_clean()


@pytest.mark.django_db
def test_it_masks_the_url_in_the_admin_and_sends_a_recorded_test(apprise_settings: Any) -> None:
    client = admin_client()
    with WebhookReceiver() as receiver:
        url = secret_url(receiver)
        response = client.post(
            "/admin/alerts/notificationchannel/add/",
            {"team": default_team_id(), "name": "team", "kind": "apprise", "enabled": "on", "apprise_url": url},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        channel = NotificationChannel.objects.get(name="team")
        pages = [
            client.get("/admin/alerts/notificationchannel/").content.decode(),
            client.get(f"/admin/alerts/notificationchannel/{channel.pk}/change/").content.decode(),
        ]
        assert "json://127.0.0.1" in pages[0]
        # Saving the form again with the URL left blank keeps it.
        response = client.post(
            f"/admin/alerts/notificationchannel/{channel.pk}/change/",
            {"team": channel.team_id, "name": "team", "kind": "apprise", "enabled": "on", "apprise_url": ""},
        )
        assert response.status_code == 302
        assert NotificationChannel.objects.get(pk=channel.pk).apprise_url() == url

        response = client.post(
            "/admin/alerts/notificationchannel/",
            {"action": "send_test", "_selected_action": [channel.pk]},
            follow=True,
        )
        pages.append(response.content.decode())
        assert "team: test notification sent." in pages[-1].lower()  # the admin capitalizes messages
    [hit] = receiver.received
    assert "Test notification" in hit.json()["title"]
    test = Delivery.objects.get()
    assert (test.is_test, test.event_id, test.status, test.attempts) == (True, None, "succeeded", 1)
    pages.append(client.get("/admin/alerts/delivery/").content.decode())
    for page in pages:
        assert PASSWORD not in page
        assert PATH_TOKEN not in page


@pytest.mark.django_db
def test_it_records_a_failed_test_and_shows_its_scrubbed_error(apprise_settings: Any) -> None:
    client = admin_client()
    with WebhookReceiver(status=503) as receiver:
        channel = apprise_channel(secret_url(receiver))
        response = client.post(
            "/admin/alerts/notificationchannel/",
            {"action": "send_test", "_selected_action": [channel.pk]},
            follow=True,
        )
    page = response.content.decode()
    test = Delivery.objects.get()
    assert (test.is_test, test.status) == (True, "failed")
    assert "503" in test.last_error
    assert "apprise json:// failed" in page.lower()
    assert PASSWORD not in page
    assert PATH_TOKEN not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "targets"),
    [
        ("ntfy://127.0.0.1:9/deploys/incidents", 2),
        ("tgram://123456789:AAHabcdefghijklmnopqrstuvwxyz012345/1111/2222/3333", 3),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops/#oncall", 2),
    ],
)
def test_it_refuses_a_url_naming_several_targets_at_save(apprise_settings: Any, url: str, targets: int) -> None:
    # One outcome for all targets: a retry after one target failed would notify the others twice.
    with pytest.raises(ValidationError) as caught:
        NotificationChannel(name="many", kind="apprise").set_apprise_url(url)
    message = caught.value.message_dict["apprise_url"][0]
    assert f"names {targets} targets" in message
    assert "one channel per target" in message
    assert "AAHabcdef" not in message
    one = url.rsplit("/", targets - 1)[0]
    apprise_channel(one, name="one")  # the same service with one target is accepted
