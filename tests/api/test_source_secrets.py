"""/api/v1/sources' write-only secrets, the Basic password or Bearer token and the TLS client key: set, kept,
replaced and removed through the API, validated like the admin, encrypted at rest, and never shown, logged or
audited; a move to another origin that gives them again (or removes them) in the same request."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from accounts.models import AuditEvent, Role
from devops_insights import crypto
from pollers.credentials import request_for, transport_for
from pollers.models import MASK, Source
from pollers.validation import MAX_SECRET_BYTES
from tests.api.support import assert_error, assert_matches_schema, headers_received
from tests.factories import (
    UNVERIFIED_API_KEY,
    bearer,
    default_team,
    make_source,
    make_source_sending_credentials_unverified,
    make_team,
    make_token,
)
from tests.pollers.support import Pki, make_pki

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

TOKEN = "tok_live_api_5e4d3c2b1a09"
PASSWORD = "api-horse-battery-staple-9"


@pytest.fixture
def field_key(settings: Any) -> str:
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


@pytest.fixture
def admin_token() -> str:
    return make_token("admin", role=Role.ADMIN)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


def send(client: Client, token: str, method: str, data: Any, slug: str = "") -> Any:
    path = f"/api/v1/sources/{slug}" if slug else "/api/v1/sources"
    return getattr(client, method)(path, data=data, content_type="application/json", **bearer(token))


def stored_secret(slug: str) -> str:
    encrypted = Source.objects.get(slug=slug).auth_secret_encrypted
    return crypto.decrypt(encrypted) if encrypted else ""


def key_body(pem: str) -> str:
    """A line of a PEM key's base64 body: what would show if the key leaked anywhere."""
    return pem.strip().splitlines()[1]


def secured_source(url: str = "http://127.0.0.1:9/status", **fields: Any) -> Source:
    source = make_source("us-east", url=url, auth_scheme=Source.AuthScheme.BEARER, **fields)
    source.set_auth_secret(TOKEN)
    source.save()
    return source


def test_it_creates_a_source_with_a_token_it_sends_and_never_shows(
    client: Client, admin_token: str, field_key: str, simulator: Any
) -> None:
    body = {
        "slug": "secured",
        "name": "Secured",
        "url": f"{simulator.base_url}/echo/headers",
        "auth_scheme": "bearer",
        "auth_secret": TOKEN,
    }
    created = send(client, admin_token, "post", body)
    assert created.status_code == 201, created.content
    assert_matches_schema(created.json(), "Source")
    assert (created.json()["auth_secret"], created.json()["tls_client_key"]) == (MASK, None)

    source = Source.objects.get(slug="secured")
    assert TOKEN not in source.auth_secret_encrypted  # only ciphertext at rest
    assert headers_received(source.url, request_for(source).headers)["Authorization"] == f"Bearer {TOKEN}"
    for path in ("/api/v1/sources", "/api/v1/sources/secured"):
        text = client.get(path, **bearer(admin_token)).content.decode()
        assert TOKEN not in text, path
        assert source.auth_secret_encrypted not in text, path


def test_it_keeps_replaces_and_removes_a_password(client: Client, admin_token: str, field_key: str) -> None:
    source = make_source("us-east", auth_scheme=Source.AuthScheme.BASIC, auth_username="ops")
    source.set_auth_secret(PASSWORD)
    source.save()
    shown = client.get("/api/v1/sources/us-east", **bearer(admin_token)).json()
    assert (shown["auth_scheme"], shown["auth_username"], shown["auth_secret"]) == ("basic", "ops", MASK)

    # Sent back masked as read, or left out: kept.
    for body in ({"name": "Renamed", "auth_secret": shown["auth_secret"]}, {"name": "Again"}):
        response = send(client, admin_token, "patch", body, "us-east")
        assert response.status_code == 200, response.content
        assert stored_secret("us-east") == PASSWORD

    replaced = send(client, admin_token, "patch", {"auth_secret": "new-password-2"}, "us-east")
    assert replaced.status_code == 200, replaced.content
    assert "new-password-2" not in replaced.content.decode()
    assert stored_secret("us-east") == "new-password-2"

    # null alone would leave Basic without its password: refused as the admin refuses it, nothing changed.
    error = assert_error(send(client, admin_token, "patch", {"auth_secret": None}, "us-east"), 400)
    assert "Type the password or token" in error["details"]["fields"]["auth_secret"][0]
    assert stored_secret("us-east") == "new-password-2"

    removed = send(client, admin_token, "patch", {"auth_secret": None, "auth_scheme": ""}, "us-east")
    assert removed.status_code == 200, removed.content
    assert (removed.json()["auth_scheme"], removed.json()["auth_secret"]) == ("", None)
    assert Source.objects.get(slug="us-east").auth_secret_encrypted == ""


def test_it_sets_and_removes_a_client_key(client: Client, admin_token: str, field_key: str, pki: Pki) -> None:
    body = {
        "slug": "mtls",
        "name": "mTLS",
        "url": "http://127.0.0.1:9/status",
        "tls_client_cert_pem": pki.client_cert_pem,
        "tls_client_key": pki.client_key_pem,
    }
    created = send(client, admin_token, "post", body)
    assert created.status_code == 201, created.content
    assert (created.json()["tls_client_key"], created.json()["auth_secret"]) == (MASK, None)
    assert created.json()["tls_client_cert_pem"] == pki.client_cert_pem
    source = Source.objects.get(slug="mtls")
    assert transport_for(source).client_key_pem.strip() == pki.client_key_pem.strip()
    shown = client.get("/api/v1/sources/mtls", **bearer(admin_token)).content.decode()
    assert key_body(pki.client_key_pem) not in shown

    removed = send(client, admin_token, "patch", {"tls_client_key": None, "tls_client_cert_pem": ""}, "mtls")
    assert removed.status_code == 200, removed.content
    assert removed.json()["tls_client_key"] is None
    assert Source.objects.get(slug="mtls").tls_client_key_encrypted == ""


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        (lambda pki: {"auth_secret": TOKEN}, "auth_scheme", "Choose Basic or Bearer"),
        (lambda pki: {"auth_scheme": "bearer"}, "auth_secret", "Type the password or token"),
        (lambda pki: {"auth_scheme": "basic", "auth_secret": PASSWORD}, "auth_username", "HTTP Basic needs a username"),
        (lambda pki: {"auth_scheme": "digest", "auth_secret": TOKEN}, "auth_scheme", 'one of "", basic, bearer'),
        (lambda pki: {"auth_scheme": "bearer", "auth_secret": ""}, "auth_secret", "must not be empty"),
        (lambda pki: {"auth_scheme": "bearer", "auth_secret": 42}, "auth_secret", "must be a string"),
        (lambda pki: {"tls_client_key": pki.client_key_pem}, "tls_client_cert_pem", "needs its client certificate"),
        (lambda pki: {"tls_client_cert_pem": pki.client_cert_pem}, "tls_client_key", "Paste the private key"),
        (
            lambda pki: {"tls_client_cert_pem": pki.client_cert_pem, "tls_client_key": f"{TOKEN}-not-a-key"},
            "tls_client_key",
            "not a PEM private key",
        ),
        (
            lambda pki: {"tls_client_cert_pem": pki.client_cert_pem, "tls_client_key": pki.other_client_key_pem},
            "tls_client_key",
            "does not belong to the client certificate",
        ),
    ],
)
def test_it_validates_the_secrets_like_the_admin(
    client: Client,
    admin_token: str,
    field_key: str,
    pki: Pki,
    fields: Callable[[Pki], dict[str, Any]],
    field: str,
    words: str,
) -> None:
    body = {"slug": "x", "name": "X", "url": "http://127.0.0.1:9/status", **fields(pki)}
    response = send(client, admin_token, "post", body)
    error = assert_error(response, 400, "invalid_parameters")
    assert words in " ".join(error["details"]["fields"].get(field, [])), error
    text = response.content.decode()
    assert TOKEN not in text
    assert key_body(pki.client_key_pem) not in text
    assert key_body(pki.other_client_key_pem) not in text
    assert not Source.objects.filter(slug="x").exists()


@pytest.mark.parametrize(
    ("scheme", "secret", "words"),
    [
        ("bearer", f"{TOKEN}\r\nX-Injected: yes", "contains a carriage return (CR)"),
        ("bearer", f"{TOKEN}\n", "contains a line feed (LF)"),
        ("bearer", f"{TOKEN}-\u20ac", "has characters HTTP headers cannot carry (beyond Latin-1)"),
        ("basic", f"{PASSWORD}\u0000", "contains a NUL character"),
    ],
)
def test_it_refuses_a_password_or_token_that_cannot_be_sent_without_echoing_it(
    client: Client, admin_token: str, field_key: str, scheme: str, secret: str, words: str
) -> None:
    # Stored before, and every poll then failed: requests refuses such a header, an upstream such a password.
    body = {"slug": "x", "name": "X", "url": "http://127.0.0.1:9/", "auth_scheme": scheme, "auth_secret": secret}
    if scheme == "basic":
        body["auth_username"] = "ops"
    created = send(client, admin_token, "post", body)
    error = assert_error(created, 400, "invalid_parameters")
    assert words in error["details"]["fields"]["auth_secret"][0], error
    assert not Source.objects.filter(slug="x").exists()

    secured_source()
    changed = send(client, admin_token, "patch", {k: v for k, v in body.items() if k != "slug"}, "us-east")
    error = assert_error(changed, 400, "invalid_parameters")
    assert words in error["details"]["fields"]["auth_secret"][0], error
    assert stored_secret("us-east") == TOKEN
    for response in (created, changed):
        text = response.content.decode()
        assert TOKEN not in text
        assert PASSWORD not in text


def test_it_refuses_credentials_with_tls_verification_off_until_acknowledged(
    client: Client, admin_token: str, field_key: str, pki: Pki
) -> None:
    rule = "Verification is off while the source sends its Bearer token: anyone on the network path"
    body = {"slug": "x", "name": "X", "url": "https://127.0.0.1:9/", "auth_scheme": "bearer", "auth_secret": TOKEN}
    created = send(client, admin_token, "post", {**body, "tls_verify": False})
    error = assert_error(created, 400, "invalid_parameters")
    assert rule in " ".join(error["details"]["fields"]["tls_verify"]), error
    assert TOKEN not in created.content.decode()
    assert not Source.objects.filter(slug="x").exists()

    # Stored with verification on, then turned off (a pinned CA does not excuse it: it is not used then).
    secured_source()
    for change in ({"tls_verify": False}, {"tls_verify": False, "tls_ca_pem": pki.ca_pem}):
        refused = send(client, admin_token, "patch", change, "us-east")
        error = assert_error(refused, 400, "invalid_parameters")
        assert rule in " ".join(error["details"]["fields"]["tls_verify"]), error
        assert TOKEN not in refused.content.decode()
    stored = Source.objects.get(slug="us-east")
    assert (stored.tls_verify, stored.tls_ca_pem, stored_secret("us-east")) == (True, "", TOKEN)

    acknowledged = send(
        client, admin_token, "patch", {"tls_verify": False, "insecure_credentials_acknowledged": True}, "us-east"
    )
    assert acknowledged.status_code == 200, acknowledged.content
    assert_matches_schema(acknowledged.json(), "Source")
    assert (acknowledged.json()["tls_verify"], acknowledged.json()["insecure_credentials_acknowledged"]) == (
        False,
        True,
    )
    # A standing decision: a later edit need not give it again.
    assert send(client, admin_token, "patch", {"interval_seconds": 60}, "us-east").status_code == 200
    assert stored_secret("us-east") == TOKEN


def test_it_refuses_credentials_over_plain_http_beyond_loopback_until_acknowledged(
    client: Client, admin_token: str, field_key: str, lan_host: str
) -> None:
    rule = "The URL is plain http while the source sends its Bearer token: anyone on the network path can read"
    plain = f"http://{lan_host}:9/status"
    body = {"slug": "x", "name": "X", "url": plain, "auth_scheme": "bearer", "auth_secret": TOKEN}
    created = send(client, admin_token, "post", body)
    error = assert_error(created, 400, "invalid_parameters")
    assert rule in " ".join(error["details"]["fields"]["url"]), error
    assert TOKEN not in created.content.decode()
    assert not Source.objects.filter(slug="x").exists()

    # Stored on loopback, then moved to plain http on the network; a credential header counts as a token does.
    secured_source()
    header = {"url": plain, "auth_scheme": "", "auth_secret": None, "headers": {"X-Api-Key": TOKEN}}
    for change in ({"url": plain}, header):
        refused = send(client, admin_token, "patch", change, "us-east")
        error = assert_error(refused, 400, "invalid_parameters")
        assert "The URL is plain http while the source sends" in " ".join(error["details"]["fields"]["url"]), error
        assert TOKEN not in refused.content.decode()
    stored = Source.objects.get(slug="us-east")
    assert (stored.url, stored.headers, stored_secret("us-east")) == ("http://127.0.0.1:9/status", {}, TOKEN)

    acknowledged = send(client, admin_token, "patch", {**header, "insecure_credentials_acknowledged": True}, "us-east")
    assert acknowledged.status_code == 200, acknowledged.content
    assert_matches_schema(acknowledged.json(), "Source")
    assert (acknowledged.json()["url"], acknowledged.json()["insecure_credentials_acknowledged"]) == (plain, True)
    # A standing decision: a later edit need not give it again.
    assert send(client, admin_token, "patch", {"interval_seconds": 60}, "us-east").status_code == 200


def test_it_says_which_stored_sources_send_credentials_insecurely_until_acknowledged(
    client: Client, admin_token: str, lan_host: str
) -> None:
    # Stored before such a save was refused: the API says so, by the rule that refuses it now.
    make_source_sending_credentials_unverified("us-east", lan_host)
    make_source("eu-west")
    listed = client.get("/api/v1/sources", **bearer(admin_token))
    assert listed.status_code == 200
    for shown in listed.json()["sources"]:
        assert_matches_schema(shown, "Source")
    flagged = {shown["slug"]: shown["credentials_sent_unverified"] for shown in listed.json()["sources"]}
    assert flagged["eu-west"] == {}
    assert sorted(flagged["us-east"]) == ["tls_verify", "url"]
    assert flagged["us-east"]["url"].startswith("The URL is plain http while the source sends the header X-Api-Key")
    assert "Verification is off while the source sends the header X-Api-Key" in flagged["us-east"]["tls_verify"]
    assert UNVERIFIED_API_KEY not in listed.content.decode()

    refused = send(client, admin_token, "patch", {"credentials_sent_unverified": {}}, "us-east")
    assert "read-only" in json.dumps(assert_error(refused, 400, "invalid_parameters"))
    acknowledged = send(client, admin_token, "patch", {"insecure_credentials_acknowledged": True}, "us-east")
    assert acknowledged.status_code == 200, acknowledged.content
    assert acknowledged.json()["credentials_sent_unverified"] == {}
    assert client.get("/api/v1/sources/us-east", **bearer(admin_token)).json()["credentials_sent_unverified"] == {}


@pytest.mark.parametrize(("scheme", "unit"), [("bearer", TOKEN), ("basic", "\u043f\u0430\u0440\u043e\u043b\u044c-")])
def test_it_refuses_a_password_or_token_too_long_for_a_header_naming_the_field_never_the_value(
    client: Client, admin_token: str, field_key: str, scheme: str, unit: str
) -> None:
    # Stored before, and every poll then failed: most servers refuse an Authorization header over 8 KiB.
    too_long = unit * (MAX_SECRET_BYTES // len(unit.encode()) + 1)
    size = len(too_long.encode())  # bytes, not letters: a Basic password travels as UTF-8
    body = {"slug": "x", "name": "X", "url": "http://127.0.0.1:9/", "auth_scheme": scheme, "auth_username": "ops"}
    if scheme == "bearer":
        body["auth_username"] = ""
    created = send(client, admin_token, "post", {**body, "auth_secret": too_long})
    error = assert_error(created, 400, "invalid_parameters")
    assert error["details"]["fields"]["auth_secret"] == [
        f"The password or token is {size} bytes long, over the {MAX_SECRET_BYTES} allowed: it is sent in the "
        "Authorization header, which most servers refuse over 8 KiB."
    ], error
    for shown in (unit, json.dumps(unit)[1:-1]):  # as it is, and as JSON escapes it
        assert shown not in created.content.decode()
    assert not Source.objects.filter(slug="x").exists()

    at_the_limit = too_long.encode()[:MAX_SECRET_BYTES].decode(errors="ignore")
    assert send(client, admin_token, "post", {**body, "auth_secret": at_the_limit}).status_code == 201
    assert stored_secret("x") == at_the_limit


def test_it_refuses_a_secret_without_an_encryption_key(client: Client, admin_token: str, settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    body = {"slug": "x", "name": "X", "url": "http://127.0.0.1:9/", "auth_scheme": "bearer", "auth_secret": TOKEN}
    error = assert_error(send(client, admin_token, "post", body), 400, "invalid_parameters")
    assert "Set FIELD_ENCRYPTION_KEY" in error["details"]["fields"]["auth_secret"][0]
    assert not Source.objects.filter(slug="x").exists()


def test_it_moves_a_source_to_another_origin_when_the_request_gives_or_removes_its_secrets(
    client: Client, admin_token: str, field_key: str, pki: Pki, simulator: Any, other_simulator: Any
) -> None:
    here, elsewhere = f"{simulator.base_url}/echo/headers", f"{other_simulator.base_url}/echo/headers"
    source = secured_source(here, tls_client_cert_pem=pki.client_cert_pem)
    source.set_client_key(pki.client_key_pem)
    source.save()

    # Kept, left out or sent back masked as read: the stored secrets would follow the URL. Refused, saying how.
    for body in ({"url": elsewhere}, {"url": elsewhere, "auth_secret": MASK, "tls_client_key": MASK}):
        error = assert_error(send(client, admin_token, "patch", body, "us-east"), 400)
        fields = error["details"]["fields"]
        assert set(fields) == {"auth_secret", "tls_client_key"}, fields
        assert "Send auth_secret again in the same request" in fields["auth_secret"][0]
        assert "Send tls_client_key again in the same request" in fields["tls_client_key"][0]
    assert Source.objects.get(slug="us-east").url == here, "nothing saved"

    # Given again (the token) and removed (the key) in the same request: the caller's choice, accepted.
    again = {"auth_secret": "token-for-the-other-server", "tls_client_key": None, "tls_client_cert_pem": ""}
    moved = send(client, admin_token, "patch", {"url": elsewhere, **again}, "us-east")
    assert moved.status_code == 200, moved.content
    source = Source.objects.get(slug="us-east")
    assert source.url == elsewhere
    assert not source.has_client_key
    received = headers_received(source.url, request_for(source).headers)
    assert received["Authorization"] == "Bearer token-for-the-other-server"


@pytest.mark.parametrize(
    ("role", "team", "status"), [(Role.VIEWER, "own", 403), (Role.OPERATOR, "own", 403), (Role.ADMIN, "other", 404)]
)
def test_it_lets_only_the_source_teams_admins_set_or_clear_its_secrets(
    client: Client, admin_token: str, field_key: str, role: str, team: str, status: int
) -> None:
    secured_source()
    caller = make_token(f"{role}-{team}", role=role, team=default_team() if team == "own" else make_team("red"))
    for body in ({"auth_secret": "taken-over-token"}, {"auth_secret": None, "auth_scheme": ""}):
        assert_error(send(client, caller, "patch", body, "us-east"), status)
    assert stored_secret("us-east") == TOKEN
    # The team's admin, with the same request: accepted.
    assert send(client, admin_token, "patch", {"auth_secret": "rotated-token"}, "us-east").status_code == 200
    assert stored_secret("us-east") == "rotated-token"


def test_it_keeps_secrets_out_of_logs_answers_and_the_audit_trail(
    client: Client, admin_token: str, field_key: str, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {
        "slug": "secured",
        "name": "Secured",
        "url": "http://127.0.0.1:9/status",
        "auth_scheme": "bearer",
        "auth_secret": TOKEN,
        "tls_client_cert_pem": pki.client_cert_pem,
        "tls_client_key": pki.client_key_pem,
    }
    answers = [send(client, admin_token, "post", body)]
    answers.append(send(client, admin_token, "patch", {"auth_secret": PASSWORD}, "secured"))
    answers.append(send(client, admin_token, "patch", {"tls_client_key": pki.other_client_key_pem}, "secured"))
    assert [answer.status_code for answer in answers] == [201, 200, 400]
    source = Source.objects.get(slug="secured")
    events = AuditEvent.objects.filter(object_type="pollers.source")
    assert "auth_secret_encrypted" in events.get(action="update").detail["changed"]  # named, never shown
    secrets = (
        TOKEN,
        PASSWORD,
        key_body(pki.client_key_pem),
        key_body(pki.other_client_key_pem),
        source.auth_secret_encrypted,
        source.tls_client_key_encrypted,
    )
    trail = json.dumps(list(events.values("before", "after", "detail")))
    for text in (caplog.text, trail, *(answer.content.decode() for answer in answers)):
        for secret in secrets:
            assert secret not in text


def test_it_keeps_a_given_secret_out_of_an_error_report(settings: Any, rf: Any) -> None:
    from django.views.debug import ExceptionReporter

    from api.schemas import SourceCreate
    from api.source_input import apply_source_input

    # A key is configured but cannot encrypt: the request fails after the token was read.
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    body = SourceCreate.model_validate(
        {"slug": "s", "name": "S", "url": "http://127.0.0.1:9/", "auth_scheme": "bearer", "auth_secret": TOKEN}
    )
    try:
        apply_source_input(Source(team=default_team()), body.model_dump(exclude_unset=True))
    except ValueError as exc:
        reporter = ExceptionReporter(rf.get("/"), type(exc), exc, exc.__traceback__)
        page = reporter.get_traceback_html() + reporter.get_traceback_text()
    else:
        pytest.fail("encrypting with a malformed key should have raised")
    assert "Fernet key" in page  # the report is there...
    assert TOKEN not in page  # ...without the token among any frame's variables
