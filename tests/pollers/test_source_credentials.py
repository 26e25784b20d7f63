"""Basic and Bearer credentials: write-only in the admin, encrypted at rest, sent, and never shown."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from devops_insights import crypto
from pollers.circuit import CircuitPolicy
from pollers.engine import Poller
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import PollFailure, Source
from pollers.validation import MAX_SECRET_BYTES
from tests.factories import make_source, make_source_sending_credentials_unverified
from tests.pollers.support import form_rows, make_pki
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-7"
TOKEN = "tok_live_9f8e7d6c5b4a3210"


@pytest.fixture
def field_key(settings: Any) -> str:
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    return key


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = Poller(
        fetcher=Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), retries=0)),
        circuit_policy=CircuitPolicy(failure_threshold=100, cooldown=timedelta(seconds=60)),
    )
    yield poller
    poller.fetcher.close()


def basic_source(simulator: RunningSimulator, password: str = PASSWORD) -> Source:
    source = Source.objects.create(
        slug="basic",
        name="Basic",
        url=simulator.url("basic", f"stats=1&fault=auth&username=ops&password={PASSWORD}"),
        auth_scheme=Source.AuthScheme.BASIC,
        auth_username="ops",
    )
    source.set_auth_secret(password)
    source.save()
    return source


def bearer_source(simulator: RunningSimulator, token: str = TOKEN) -> Source:
    source = Source.objects.create(
        slug="bearer",
        name="Bearer",
        url=simulator.url("bearer", f"stats=1&fault=auth&token={TOKEN}"),
        auth_scheme=Source.AuthScheme.BEARER,
    )
    source.set_auth_secret(token)
    source.save()
    return source


# --- sent on the wire ---------------------------------------------------------------------------------
def test_it_sends_basic_and_bearer_credentials(simulator: RunningSimulator, poller: Poller, field_key: str) -> None:
    for source in (basic_source(simulator), bearer_source(simulator)):
        outcome = poller.poll(source)
        assert outcome.ok, (source.slug, outcome.error_kind, outcome.error_message)


def test_it_gets_401_without_the_right_credentials_and_never_leaks_them(
    simulator: RunningSimulator, poller: Poller, field_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = basic_source(simulator, password="wrong-password-123")
    anonymous = Source.objects.create(
        slug="anonymous", name="Anonymous", url=simulator.url("anon", f"fault=auth&token={TOKEN}")
    )
    for source in (wrong, anonymous):
        outcome = poller.poll(source)
        assert (outcome.ok, outcome.error_kind) == (False, "http_401")
    messages = " ".join(PollFailure.objects.values_list("message", flat=True))
    for text in (messages, caplog.text):
        assert "wrong-password-123" not in text
        assert wrong.auth_secret_encrypted not in text


def test_it_fails_a_poll_whose_secret_cannot_be_decrypted(
    simulator: RunningSimulator, poller: Poller, field_key: str, settings: Any
) -> None:
    source = bearer_source(simulator)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key is gone
    outcome = poller.poll(source)
    assert (outcome.ok, outcome.error_kind) == (False, "credentials")
    assert "FIELD_ENCRYPTION_KEY" in outcome.error_message
    assert simulator.requests_for("bearer") == []  # nothing was sent without the credential


def test_it_stores_only_ciphertext(simulator: RunningSimulator, field_key: str) -> None:
    source = bearer_source(simulator)
    raw = Source.objects.filter(pk=source.pk).values_list("auth_secret_encrypted", flat=True).get()
    assert TOKEN not in raw
    assert crypto.decrypt(raw) == TOKEN


# --- rotation: tests/devops_insights/test_reencrypt_secrets.py (every app's secrets) ------------------


# --- the admin: write-only inputs ---------------------------------------------------------------------
def admin_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "secured",
        "name": "Secured",
        "url": "http://127.0.0.1:9/status/x",
        "enabled": "on",
        "tags": "",
        "interval_seconds": 30,
        "timeout_seconds": 5,
        "volatile_paths": "",
        "tls_verify": "on",
        "auth_scheme": "bearer",
        "auth_secret": TOKEN,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_it_takes_a_secret_in_the_admin_and_never_shows_it_again(admin_client: Client, field_key: str) -> None:
    created = admin_client.post("/admin/pollers/source/add/", admin_form())
    assert created.status_code == 302, created.content.decode()[:2000]
    source = Source.objects.get(slug="secured")
    assert crypto.decrypt(source.auth_secret_encrypted) == TOKEN

    page = admin_client.get(f"/admin/pollers/source/{source.pk}/change/").content.decode()
    assert TOKEN not in page
    assert source.auth_secret_encrypted not in page
    assert "Bearer token secret (encrypted)" in page  # what is stored, never what it is
    assert "Leave blank to keep" in page

    # Saving with the input left blank keeps the secret; typing a value replaces it.
    kept = admin_client.post(f"/admin/pollers/source/{source.pk}/change/", admin_form(auth_secret=""))
    assert kept.status_code == 302
    assert crypto.decrypt(Source.objects.get(pk=source.pk).auth_secret_encrypted) == TOKEN
    admin_client.post(f"/admin/pollers/source/{source.pk}/change/", admin_form(auth_secret="replacement-token"))
    assert crypto.decrypt(Source.objects.get(pk=source.pk).auth_secret_encrypted) == "replacement-token"

    # Removing it needs the scheme gone (or a new secret): a scheme without a secret is refused.
    refused = admin_client.post(
        f"/admin/pollers/source/{source.pk}/change/", admin_form(auth_secret="", clear_auth_secret="on")
    )
    assert refused.status_code == 200
    assert "Type the password or token" in refused.content.decode()
    admin_client.post(f"/admin/pollers/source/{source.pk}/change/", admin_form(auth_scheme="", auth_secret=""))
    assert Source.objects.get(pk=source.pk).auth_secret_encrypted == ""


def test_it_keeps_a_stored_secret_from_following_the_url_to_another_origin_in_the_admin(
    admin_client: Client, field_key: str
) -> None:
    admin_client.post("/admin/pollers/source/add/", admin_form())
    source = Source.objects.get(slug="secured")
    change = f"/admin/pollers/source/{source.pk}/change/"
    elsewhere = "http://127.0.0.1:10/status/x"

    refused = admin_client.post(change, admin_form(url=elsewhere, auth_secret=""))
    assert refused.status_code == 200
    assert "Type the password or token again, or remove it" in refused.content.decode()
    assert Source.objects.get(pk=source.pk).url == "http://127.0.0.1:9/status/x"

    # The same server at another path keeps it; typed again or removed, the move is accepted.
    assert admin_client.post(change, admin_form(url="http://127.0.0.1:9/v2", auth_secret="")).status_code == 302
    assert crypto.decrypt(Source.objects.get(pk=source.pk).auth_secret_encrypted) == TOKEN
    assert admin_client.post(change, admin_form(url=elsewhere, auth_secret="other-token")).status_code == 302
    assert crypto.decrypt(Source.objects.get(pk=source.pk).auth_secret_encrypted) == "other-token"
    moved = admin_client.post(change, admin_form(url="http://127.0.0.1:11/", auth_scheme="", auth_secret=""))
    assert moved.status_code == 302
    assert Source.objects.get(pk=source.pk).auth_secret_encrypted == ""


def test_it_names_every_stored_secret_a_new_origin_would_receive(field_key: str) -> None:
    source = Source.objects.create(
        slug="s", name="S", url="https://api.example.com/status", headers={"X-Api-Key": "k1", "Accept": "a/b"}
    )
    source.set_auth_secret(TOKEN)
    source.set_client_key("-----BEGIN PRIVATE KEY-----\n")
    source.save()
    headers = dict(source.headers)
    assert source.secrets_kept_for_new_origin("https://API.example.com:443/other", headers) == []
    for url in ("http://api.example.com/status", "https://api.example.com:8443/status", "https://example.net/"):
        assert source.secrets_kept_for_new_origin(url, headers) == ["X-Api-Key", "auth_secret", "tls_client_key"]
    replaced = {"X-Api-Key", "auth_secret", "tls_client_key"}
    assert source.secrets_kept_for_new_origin("https://example.net/", headers, replaced) == []
    assert source.secrets_kept_for_new_origin("https://example.net/", {}, {"auth_secret", "tls_client_key"}) == []


def test_it_refuses_a_secret_without_an_encryption_key(admin_client: Client, settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    page = admin_client.post("/admin/pollers/source/add/", admin_form())
    assert page.status_code == 200
    assert "Set FIELD_ENCRYPTION_KEY" in page.content.decode()
    assert not Source.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"auth_scheme": "basic", "auth_username": ""}, "HTTP Basic needs a username"),
        (form_rows("headers", {"Authorization": "Bearer x"}), "Remove the Authorization header"),
        ({"auth_scheme": "", "auth_secret": "orphan"}, "Choose Basic or Bearer"),
        ({"proxy": "http://10.1.2.3:3128"}, "not in POLLER_ALLOWED_PROXIES"),
        ({"tls_ca_pem": "not a certificate"}, "not PEM certificates"),
    ],
)
def test_it_validates_network_and_credential_fields(
    admin_client: Client, field_key: str, overrides: dict[str, Any], words: str
) -> None:
    page = admin_client.post("/admin/pollers/source/add/", admin_form(**overrides))
    assert page.status_code == 200
    assert words in page.content.decode()
    assert not Source.objects.exists()


def test_it_checks_that_a_client_key_belongs_to_its_certificate(
    admin_client: Client, field_key: str, tmp_path: Any
) -> None:
    pki = make_pki(tmp_path)
    mismatched = admin_form(
        auth_scheme="", auth_secret="", tls_client_cert_pem=pki.client_cert_pem, tls_client_key=pki.other_client_key_pem
    )
    page = admin_client.post("/admin/pollers/source/add/", mismatched)
    assert "does not belong to the client certificate" in page.content.decode()
    matched = admin_form(
        auth_scheme="", auth_secret="", tls_client_cert_pem=pki.client_cert_pem, tls_client_key=pki.client_key_pem
    )
    assert admin_client.post("/admin/pollers/source/add/", matched).status_code == 302
    source = Source.objects.get(slug="secured")
    assert crypto.decrypt(source.tls_client_key_encrypted).strip() == pki.client_key_pem.strip()
    page = admin_client.get(f"/admin/pollers/source/{source.pk}/change/").content.decode()
    key_body = pki.client_key_pem.splitlines()[1]
    assert key_body not in page
    assert "client key (encrypted)" in page


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"auth_secret": "tok-1\r\nX-Injected: yes"}, "The password or token contains a carriage return (CR)"),
        ({"auth_secret": "tok-1-injected\n"}, "The password or token contains a line feed (LF)"),
        ({"auth_secret": "tok-1-\u20acuro-injected"}, "has characters HTTP headers cannot carry (beyond Latin-1)"),
        (
            {"auth_scheme": "basic", "auth_username": "ops", "auth_secret": "pass\tword-injected"},
            "The password or token contains a tab: HTTP Basic allows no control character",
        ),
        ({"auth_scheme": "basic", "auth_username": "ops:root", "auth_secret": PASSWORD}, "cannot contain a colon"),
    ],
)
def test_it_refuses_a_password_or_token_that_cannot_be_sent_without_showing_it(
    admin_client: Client, field_key: str, overrides: dict[str, Any], words: str
) -> None:
    # Stored before, and then every poll failed (requests refuses the header) or was refused upstream.
    page = admin_client.post("/admin/pollers/source/add/", admin_form(**overrides))
    assert page.status_code == 200
    content = page.content.decode()
    assert words in content
    assert "injected" not in content.lower()
    assert not Source.objects.exists()


def test_it_sends_a_basic_password_of_any_letters_and_judges_a_kept_one_against_a_new_scheme(
    admin_client: Client, simulator: RunningSimulator, poller: Poller, field_key: str
) -> None:
    # Basic sends the password base64-encoded as UTF-8: letters beyond Latin-1 are fine there...
    password = "\u043f\u0430\u0440\u043e\u043b\u044c-7"
    source = basic_source(simulator, password=password)
    source.url = simulator.url("basic", f"stats=1&fault=auth&username=ops&password={password}")
    source.save()
    assert poller.poll(source).ok
    # ...but not in a Bearer token: switching the scheme while keeping the stored password is refused.
    change = f"/admin/pollers/source/{source.pk}/change/"
    form = admin_form(slug="basic", url=source.url, auth_scheme="bearer", auth_username="", auth_secret="")
    page = admin_client.post(change, form)
    assert page.status_code == 200
    assert "The stored password or token has characters HTTP headers cannot carry" in page.content.decode()
    assert Source.objects.get(pk=source.pk).auth_scheme == Source.AuthScheme.BASIC


@pytest.mark.parametrize(
    ("overrides", "sent"),
    [
        ({}, "its Bearer token"),
        ({"auth_scheme": "basic", "auth_username": "ops", "auth_secret": PASSWORD}, "its Basic password"),
        ({"auth_scheme": "", "auth_secret": "", **form_rows("headers", {"X-Api-Key": TOKEN})}, "the header X-Api-Key"),
    ],
)
def test_it_refuses_credentials_with_tls_verification_off_until_acknowledged_in_the_admin(
    admin_client: Client, field_key: str, tmp_path: Any, overrides: dict[str, Any], sent: str
) -> None:
    # A pinned CA does not excuse it: the poller trusts nothing while verification is off.
    form = admin_form(tls_verify=None, tls_ca_pem=make_pki(tmp_path).ca_pem, **overrides)
    page = admin_client.post("/admin/pollers/source/add/", form)
    assert page.status_code == 200
    content = page.content.decode()
    assert f"Verification is off while the source sends {sent}: anyone on the network path" in content
    error = content[content.index("Verification is off") :]
    error = error[: error.index("</li>")]
    assert TOKEN not in error
    assert PASSWORD not in error
    assert not Source.objects.exists()

    saved = admin_client.post("/admin/pollers/source/add/", {**form, "insecure_credentials_acknowledged": "on"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    source = Source.objects.get(slug="secured")
    assert (source.tls_verify, source.insecure_credentials_acknowledged) == (False, True)


@pytest.mark.parametrize(
    ("overrides", "sent"),
    [
        ({}, "its Bearer token"),
        ({"auth_scheme": "basic", "auth_username": "ops", "auth_secret": PASSWORD}, "its Basic password"),
        ({"auth_scheme": "", "auth_secret": "", **form_rows("headers", {"X-Api-Key": TOKEN})}, "the header X-Api-Key"),
    ],
)
def test_it_refuses_credentials_over_plain_http_beyond_loopback_until_acknowledged_in_the_admin(
    admin_client: Client, field_key: str, lan_host: str, overrides: dict[str, Any], sent: str
) -> None:
    form = admin_form(url=f"http://{lan_host}:9/status/x", **overrides)
    page = admin_client.post("/admin/pollers/source/add/", form)
    assert page.status_code == 200
    content = page.content.decode()
    assert f"The URL is plain http while the source sends {sent}: anyone on the network path can read" in content
    error = content[content.index("The URL is plain http") :]
    error = error[: error.index("</li>")]
    assert TOKEN not in error
    assert PASSWORD not in error
    assert not Source.objects.exists()

    # https to the same host, or the same URL acknowledged, is saved; loopback never needed it (admin_form's URL).
    for change in ({"url": f"https://{lan_host}:9/status/x"}, {"insecure_credentials_acknowledged": "on"}):
        saved = admin_client.post("/admin/pollers/source/add/", {**form, **change})
        assert saved.status_code == 302, saved.content.decode()[:2000]
        Source.objects.filter(slug="secured").delete()


def test_it_refuses_a_password_or_token_too_long_for_a_header_in_the_admin(
    admin_client: Client, field_key: str
) -> None:
    # Stored before, and every poll then failed: most servers refuse an Authorization header over 8 KiB.
    too_long = (TOKEN * (MAX_SECRET_BYTES // len(TOKEN) + 1))[: MAX_SECRET_BYTES + 1]
    page = admin_client.post("/admin/pollers/source/add/", admin_form(auth_secret=too_long))
    assert page.status_code == 200
    content = page.content.decode()
    assert f"The password or token is {MAX_SECRET_BYTES + 1} bytes long, over the {MAX_SECRET_BYTES} allowed" in content
    assert TOKEN not in content
    assert not Source.objects.exists()
    at_the_limit = admin_client.post("/admin/pollers/source/add/", admin_form(auth_secret=too_long[:-1]))
    assert at_the_limit.status_code == 302
    assert crypto.decrypt(Source.objects.get(slug="secured").auth_secret_encrypted) == too_long[:-1]


def test_it_warns_in_the_admin_when_tls_verification_is_off(admin_client: Client, field_key: str) -> None:
    form = admin_form(tls_verify=None, insecure_credentials_acknowledged="on")
    saved = admin_client.post("/admin/pollers/source/add/", form, follow=True)
    assert "TLS certificate verification is OFF" in saved.content.decode()
    source = Source.objects.get(slug="secured")
    assert source.tls_verify is False
    change = admin_client.get(f"/admin/pollers/source/{source.pk}/change/").content.decode()
    assert "TLS certificate verification is OFF" in change
    listing = admin_client.get("/admin/pollers/source/").content.decode()
    assert "verification off" in listing


# --- never shown elsewhere ------------------------------------------------------------------------------
def test_it_keeps_secrets_out_of_the_api_the_exports_and_the_dashboard(
    admin_client: Client, simulator: RunningSimulator, poller: Poller, field_key: str
) -> None:
    source = bearer_source(simulator)
    assert poller.poll(source).ok  # so that there is a snapshot to show and export
    paths = (
        "/api/v1/sources",
        f"/api/v1/sources/{source.slug}",
        f"/api/v1/metrics/{source.slug}",
        f"/api/v1/export/{source.slug}",
        f"/sources/{source.slug}/",
        f"/sources/{source.slug}/latest.json",
    )
    for path in paths:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        raw = b"".join(response.streaming_content) if response.streaming else response.content
        body = raw.decode()
        assert TOKEN not in body, path
        assert source.auth_secret_encrypted not in body, path


def test_it_keeps_a_decrypted_secret_out_of_a_debug_error_page(
    simulator: RunningSimulator, field_key: str, rf: Any
) -> None:
    from django.views.debug import ExceptionReporter

    from pollers.credentials import authorization

    class Exploding:
        def __format__(self, spec: str) -> str:
            raise RuntimeError("formatting failed after the secret was decrypted")

    source = basic_source(simulator)
    source.auth_username = Exploding()  # type: ignore[assignment]
    try:
        authorization(source)
    except RuntimeError as exc:
        reporter = ExceptionReporter(rf.get("/"), type(exc), exc, exc.__traceback__)
        page = reporter.get_traceback_html() + reporter.get_traceback_text()
    else:
        pytest.fail("authorization() should have raised")
    assert "formatting failed" in page  # the report is there...
    assert PASSWORD not in page  # ...without the decrypted password among the frame's variables


def test_it_lists_the_stored_sources_that_send_credentials_insecurely_by_the_one_rule(lan_host: str) -> None:
    # Stored before such a save was refused: nothing judged them, and they keep polling.
    make_source_sending_credentials_unverified("both", lan_host)
    make_source_sending_credentials_unverified("plain", lan_host, tls_verify=True)
    make_source("bearer-unverified", url="https://127.0.0.1:9/status", tls_verify=False, auth_scheme="bearer")
    make_source_sending_credentials_unverified("acknowledged", lan_host, insecure_credentials_acknowledged=True)
    make_source_sending_credentials_unverified("loopback", "127.0.0.1", tls_verify=True)
    make_source_sending_credentials_unverified("no-credentials", lan_host, headers={"X-Team": "core"})

    flagged = Source.objects.order_by("slug").sending_credentials_unverified()
    assert {source.slug: sorted(source.credentials_sent_unverified()) for source in flagged} == {
        "bearer-unverified": ["tls_verify"],
        "both": ["tls_verify", "url"],
        "plain": ["url"],
    }
