"""Key rotation: ``manage.py reencrypt_secrets`` re-encrypts every app's registered secrets (source
credentials, Apprise notification URLs) with the first key, and names the ones no key can read."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from alerts.models import NotificationChannel
from devops_insights import crypto
from pollers.models import Source
from tests.factories import make_source

pytestmark = pytest.mark.django_db

TOKEN = "tok_live_9f8e7d6c5b4a3210"
APPRISE_URL = "json://127.0.0.1:9/hook/apprise-path-token-5e6f"


@pytest.fixture
def old_key(settings: Any) -> str:
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.APPRISE_ALLOW_GENERIC = True
    return key


@pytest.fixture
def secrets(old_key: str) -> tuple[Source, NotificationChannel]:
    source = make_source("bearer", auth_scheme=Source.AuthScheme.BEARER)
    source.set_auth_secret(TOKEN)
    source.save()
    channel = NotificationChannel(name="pager", kind=NotificationChannel.Kind.APPRISE)
    channel.set_apprise_url(APPRISE_URL)
    channel.full_clean()
    channel.save()
    return source, channel


def stored(source: Source, channel: NotificationChannel) -> tuple[str, str]:
    return (
        Source.objects.values_list("auth_secret_encrypted", flat=True).get(pk=source.pk),
        NotificationChannel.objects.values_list("apprise_url_encrypted", flat=True).get(pk=channel.pk),
    )


def test_it_knows_the_secrets_of_every_app_from_their_registrations() -> None:
    registered = {(entry.model._meta.label, entry.fields) for entry in crypto.registered_encrypted_fields()}
    assert ("pollers.Source", ("auth_secret_encrypted", "tls_client_key_encrypted")) in registered
    assert ("alerts.NotificationChannel", ("apprise_url_encrypted",)) in registered


def test_it_reencrypts_source_credentials_and_apprise_urls_with_the_first_key(
    secrets: tuple[Source, NotificationChannel], old_key: str, settings: Any
) -> None:
    before = stored(*secrets)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "re-encrypted 2 stored secrets" in out.getvalue()
    after = stored(*secrets)
    assert all(new != old for new, old in zip(after, before, strict=True))

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key removed: everything still reads
    channel = secrets[1]
    channel.refresh_from_db()
    assert crypto.decrypt(after[0]) == TOKEN
    assert channel.apprise_url() == APPRISE_URL
    assert TOKEN not in out.getvalue()
    assert APPRISE_URL not in out.getvalue()


def test_it_names_the_secrets_it_cannot_reencrypt_without_their_values(
    secrets: tuple[Source, NotificationChannel], settings: Any
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the only key that fits is gone
    before = stored(*secrets)
    with pytest.raises(CommandError) as caught:
        call_command("reencrypt_secrets", stdout=StringIO())
    message = str(caught.value)
    assert "pollers.Source:bearer.auth_secret_encrypted" in message
    assert "alerts.NotificationChannel:pager.apprise_url_encrypted" in message
    assert TOKEN not in message
    assert "apprise-path-token" not in message
    assert stored(*secrets) == before  # nothing unreadable was overwritten


def test_it_refuses_to_run_without_a_key(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEY is not set"):
        call_command("reencrypt_secrets", stdout=StringIO())
