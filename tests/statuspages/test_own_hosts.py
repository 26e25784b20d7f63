"""The product's own host names (statuspages/own_hosts.py): parsed once per value of their settings, though
``CustomHostMiddleware`` asks for them on every request with a dotted host, and a changed setting seen at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from statuspages import own_hosts
from tests.factories import make_status_page

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_parses_the_settings_once_for_every_request(settings: Any) -> None:
    # Rebuilt on every request with a dotted host before: a urlsplit of SITE_URL and of each trusted origin.
    settings.SITE_URL = "https://insights.example.com/"
    settings.CSRF_TRUSTED_ORIGINS = ["https://admin.example.com:8443", "https://*.example.org"]
    first = own_hosts.own_hosts()
    assert first == {"insights.example.com", "admin.example.com"}
    assert own_hosts.own_hosts() is first


def test_it_sees_a_changed_setting_at_once(client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "status.acme.example"]
    settings.SITE_URL = "https://insights.example.com"
    settings.CSRF_TRUSTED_ORIGINS = []
    make_status_page("acme", custom_host="status.acme.example", title="Acme status")
    served = client.get("/", HTTP_HOST="status.acme.example")
    assert served.status_code == 200
    assert "Acme status" in served.content.decode()

    # The page's host becomes the product's own name: the product answers there (the overview: to sign in).
    settings.SITE_URL = "https://status.acme.example"
    assert client.get("/", HTTP_HOST="status.acme.example").status_code == 302
    settings.SITE_URL = "https://insights.example.com"
    assert client.get("/", HTTP_HOST="status.acme.example").status_code == 200
    settings.CSRF_TRUSTED_ORIGINS = ["https://status.acme.example"]
    assert client.get("/", HTTP_HOST="status.acme.example").status_code == 302
