"""The staff system page: poller processes, store, cache and channel layer, without leaking credentials."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from dashboard.system_info import redact_url
from pollers.models import PollerProcess
from tests.factories import (
    UNVERIFIED_API_KEY,
    logged_in,
    make_source,
    make_source_sending_credentials_unverified,
    make_team,
    payload,
    record,
)

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_it_refuses_users_who_are_not_staff(client: Client) -> None:
    logged_in(client, "dev")
    assert client.get("/system/").status_code == 403
    assert 'href="/system/"' not in client.get("/accounts/password/").content.decode()


def test_it_reports_pollers_store_counts_and_backends(staff_client: Client) -> None:
    now = timezone.now()
    PollerProcess.objects.create(
        process_id="web-1:101:aa",
        hostname="web-1",
        pid=101,
        started_at=now - timedelta(hours=1),
        last_heartbeat_at=now,
        leases_held=4,
        polls_done=1234,
        lease_backend="redis",
    )
    PollerProcess.objects.create(
        process_id="web-2:102:bb",
        hostname="web-2",
        pid=102,
        started_at=now - timedelta(hours=2),
        last_heartbeat_at=now - timedelta(minutes=10),
        leases_held=2,
        polls_done=50,
        lease_backend="redis",
    )
    source = make_source("us-east")
    record(source, payload(), now - timedelta(minutes=1))
    record(source, payload(status="error"), now)
    make_source("eu-west", enabled=False)

    response = staff_client.get("/system/")
    assert response.status_code == 200
    html = response.content.decode()
    page = text(html)
    assert "1 alive · 4 leases held" in page
    alive = re.search(r'<tr data-process="web-1:101:aa">(.*?)</tr>', html, re.S)
    silent = re.search(r'<tr data-process="web-2:102:bb">(.*?)</tr>', html, re.S)
    assert alive
    assert silent
    assert "alive" in alive.group(1)
    assert "1,234" in alive.group(1)
    assert "silent" in silent.group(1)
    assert re.search(r'data-stat="history_count">2<', html)
    assert re.search(r'data-stat="latest_count">1<', html)
    assert re.search(r'data-stat="sources_total">2<', html)
    assert re.search(r'data-stat="sources_enabled">1<', html)
    assert "sql" in page
    assert "LocMemCache" in page
    assert "InMemoryChannelLayer" in page
    assert "set/get round trip" in page
    assert "send/receive round trip" in page


def test_it_says_the_store_figures_are_every_teams(client: Client) -> None:
    # The page's counts are the current team's, but the store's figures sat beside them unmarked: a team of
    # one source read "Sources with data 3".
    now = timezone.now()
    record(make_source("us-east"), payload(), now)
    red = make_team("red")
    for slug in ("red-1", "red-2"):
        record(make_source(slug, team=red), payload(), now)
    html = logged_in(client, "ops", role=Role.ADMIN).get("/system/").content.decode()
    assert re.search(r'data-stat="sources_total">1<', html), "the team's own count"
    assert re.search(r'data-stat="latest_count">3<', html)
    assert "Metric store every team's data" in text(html).replace("&#x27;", "'")


def test_it_probes_real_redis_and_never_shows_its_password(staff_client: Client, redis_settings: Any) -> None:
    redis_settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_settings.REDIS_URL]},
        }
    }
    page = text(staff_client.get("/system/").content.decode())
    assert "RedisCache" in page
    assert "RedisChannelLayer" in page
    assert "set/get round trip" in page
    assert "send/receive round trip" in page

    bad = "redis://:pa55word@127.0.0.1:1/0"
    redis_settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [bad]}}
    }
    html = staff_client.get("/system/").content.decode()
    assert "pa55word" not in html
    assert "redis://:••••@127.0.0.1:1/0" in html
    assert "ConnectionRefusedError" in html or "ConnectionError" in html or "OSError" in html


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:secret@cache:6379/1", "redis://:••••@cache:6379/1"),
        ("rediss://user:secret@cache:6380/2?ssl_cert_reqs=none", "rediss://user:••••@cache:6380/2"),
        ("redis://user@cache/0", "redis://user@cache/0"),
    ],
)
def test_it_redacts_passwords_in_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_it_lists_the_team_sources_that_send_credentials_insecurely(staff_client: Client, lan_host: str) -> None:
    make_source_sending_credentials_unverified("us-east", lan_host, tls_verify=True)
    make_source_sending_credentials_unverified("ap-south", lan_host, enabled=False)
    make_source_sending_credentials_unverified("eu-west", lan_host, insecure_credentials_acknowledged=True)
    make_source_sending_credentials_unverified("us-west", lan_host, team=make_team("other"))
    make_source("sa-east")

    html = staff_client.get("/system/").content.decode()
    assert re.search(r'data-stat="credentials_unverified"><a class="stat-link" href="#h-credentials">2<', html)
    listed = re.findall(r'<li data-source="([^"]+)">(.*?)</ul>', html, re.S)
    assert [slug for slug, _ in listed] == ["ap-south", "us-east"]
    fields = {slug: re.findall(r'data-field="([^"]+)"', item) for slug, item in listed}
    assert fields == {"ap-south": ["url", "tls_verify"], "us-east": ["url"]}
    assert "(paused)" in dict(listed)["ap-south"]
    assert "The URL is plain http while the source sends the header X-Api-Key" in dict(listed)["us-east"]
    assert UNVERIFIED_API_KEY not in html
    # The live refresh carries the list too.
    assert 'data-source="us-east"' in staff_client.get("/system/?part=1").json()["html"]


def test_it_lists_no_source_when_none_sends_credentials_insecurely(staff_client: Client, lan_host: str) -> None:
    make_source_sending_credentials_unverified("eu-west", lan_host, insecure_credentials_acknowledged=True)
    html = staff_client.get("/system/").content.decode()
    assert re.search(r'data-stat="credentials_unverified">0<', html)
    assert 'id="credentials-unverified"' not in html
