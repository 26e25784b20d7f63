"""/api/v1/sources' network settings and pinned metrics: `proxy`, `tls_verify`, `tls_ca_pem` and `pinned_metrics`
read and written with the admin's own rules (the model's ``clean``), each refusal naming its field; admins only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from pollers.models import Source
from tests.api.support import assert_error, assert_matches_schema
from tests.factories import bearer, make_source, make_token
from tests.pollers.support import make_pki

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

PROXY = "http://proxy.corp.example:3128"
PROXY_PASSWORD = "pr0xy-pa55word-never-shown"


@pytest.fixture
def admin_token(settings: Any) -> str:
    settings.POLLER_ALLOWED_PROXIES = [PROXY]
    return make_token("admin", role=Role.ADMIN)


def send(client: Client, token: str, method: str, data: Any, slug: str = "") -> Any:
    path = f"/api/v1/sources/{slug}" if slug else "/api/v1/sources"
    return getattr(client, method)(path, data=data, content_type="application/json", **bearer(token))


def test_it_sets_and_shows_the_network_settings_and_pins(client: Client, admin_token: str, tmp_path: Path) -> None:
    ca_pem = make_pki(tmp_path).ca_pem
    body = {
        "slug": "corp",
        "name": "Corp",
        "url": "http://127.0.0.1:9/status",
        "metric_paths": {"cpu": "stats.cpu", "queue": "stats.queue"},
        "pinned_metrics": ["queue"],
        "proxy": f" {PROXY} ",
        "tls_verify": False,
        "tls_ca_pem": ca_pem,
    }
    created = send(client, admin_token, "post", body)
    assert created.status_code == 201, created.content
    shown = created.json()
    assert_matches_schema(shown, "Source")
    assert (shown["pinned_metrics"], shown["proxy"], shown["tls_verify"]) == (["queue"], PROXY, False)
    assert shown["tls_ca_pem"] == ca_pem
    source = Source.objects.get(slug="corp")
    assert (source.pinned_metrics, source.proxy, source.tls_verify, source.tls_ca_pem) == (
        ["queue"],
        PROXY,
        False,
        ca_pem,
    )

    changed = send(client, admin_token, "patch", {"proxy": "direct", "tls_verify": True, "tls_ca_pem": ""}, "corp")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["proxy"], changed.json()["tls_verify"], changed.json()["tls_ca_pem"]) == ("direct", True, "")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"proxy": "http://10.1.2.3:3128"}, "proxy", "not in POLLER_ALLOWED_PROXIES"),
        (
            {"proxy": f"http://ops:{PROXY_PASSWORD}@proxy.corp.example:3128"},
            "proxy",
            "proxy credentials belong in POLLER_PROXY",
        ),
        ({"tls_ca_pem": "not a certificate"}, "tls_ca_pem", "not PEM certificates"),
        ({"pinned_metrics": ["nowhere"]}, "pinned_metrics", "Not a metric of this source: nowhere"),
        ({"pinned_metrics": ["cpu"] * 7}, "pinned_metrics", "Pin at most 6 metrics"),
        ({"tls_verify": "no"}, "tls_verify", "must be true or false"),
    ],
)
def test_it_refuses_what_the_admin_refuses_naming_the_field(
    client: Client, admin_token: str, fields: dict[str, Any], field: str, words: str
) -> None:
    body = {"slug": "x", "name": "X", "url": "http://127.0.0.1:9/", "metric_paths": {"cpu": "stats.cpu"}, **fields}
    created = send(client, admin_token, "post", body)
    error = assert_error(created, 400, "invalid_parameters")
    assert words in " ".join(error["details"]["fields"].get(field, [])), error
    assert not Source.objects.filter(slug="x").exists()

    make_source("us-east", metric_paths={"cpu": "stats.cpu"})
    changed = send(client, admin_token, "patch", fields, "us-east")
    error = assert_error(changed, 400, "invalid_parameters")
    assert words in " ".join(error["details"]["fields"].get(field, [])), error
    stored = Source.objects.get(slug="us-east")
    assert (stored.proxy, stored.tls_verify, stored.tls_ca_pem, stored.pinned_metrics) == ("", True, "", [])
    for response in (created, changed):
        assert PROXY_PASSWORD not in response.content.decode()


def test_it_masks_the_password_of_a_proxy_stored_before_credentials_were_refused(
    client: Client, admin_token: str
) -> None:
    Source.objects.filter(pk=make_source("legacy").pk).update(proxy=f"http://ops:{PROXY_PASSWORD}@proxy:3128")
    shown = client.get("/api/v1/sources/legacy", **bearer(admin_token))
    assert shown.status_code == 200
    assert PROXY_PASSWORD not in shown.content.decode()
    assert shown.json()["proxy"].startswith("http://ops:")


def test_it_lets_only_the_source_teams_admins_change_them(client: Client, admin_token: str) -> None:
    make_source("us-east")
    for role in (Role.VIEWER, Role.OPERATOR):
        token = make_token(f"{role}-user", role=role)
        refused = send(client, token, "patch", {"tls_verify": False, "proxy": "direct"}, "us-east")
        assert_error(refused, 403, "insufficient_role")
    assert (Source.objects.get(slug="us-east").tls_verify, Source.objects.get(slug="us-east").proxy) == (True, "")
