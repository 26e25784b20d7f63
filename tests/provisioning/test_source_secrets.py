"""A source's password or token and client key in configuration files: the admin's and the API's rules
(``pollers.source_secrets``) at plan time, each problem naming file, line and field, never the secret, and
nothing applied; a key that matches its certificate is stored and planned again as no change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.models import ApiToken, AuditEvent, Role
from devops_insights import crypto
from pollers.models import Source
from pollers.validation import MAX_SECRET_BYTES
from tests.factories import bearer, default_team, make_source, make_user
from tests.pollers.support import Pki, make_pki
from tests.provisioning.support import counts, problems, run_config, text

pytestmark = pytest.mark.django_db

TOKEN = "tok_cfg_4d3c2b1a0f9e"


def source(slug: str, **fields: Any) -> dict[str, Any]:
    return {"slug": slug, "name": slug.title(), "url": f"http://127.0.0.1:9/{slug}", **fields}


def refused_plan(config: Path, items: list[dict[str, Any]]) -> list[list[str]]:
    """The (path, message) of each error a plan of ``items`` names in sources.yaml: a plan that refuses them, stores
    nothing and shows no secret."""
    config.mkdir()
    (config / "sources.yaml").write_text(text({"sources": items}))
    before = counts()
    code, out, err = run_config("plan", "-f", str(config))
    assert code == 1, (out, err)
    assert TOKEN not in out + err
    assert counts() == before
    return [line.split(": ", 2)[1:] for line in err.splitlines() if line.startswith("sources.yaml:")]


def applied_then_planned_unchanged(config: Path, item: dict[str, Any]) -> Source:
    """``item`` alone applied, and planned again as no change; the source stored."""
    (config / "sources.yaml").write_text(text({"sources": [item]}))
    assert run_config("apply", "-f", str(config), "--yes")[0] == 0
    assert run_config("plan", "-f", str(config)) == (0, "No changes: the stored setup matches the files.\n", "")
    return Source.objects.get(slug=item["slug"])


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def test_it_refuses_at_plan_time_what_the_admin_refuses_naming_the_field_never_the_secret(
    setup_settings: Any, tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    # The reader drops the file's last newline only: the one between the lines stayed in the token, and every
    # poll failed (requests refuses such a header).
    (secrets / "two-lines").write_text(f"{TOKEN}\nrotated on 1 December\n")
    (secrets / "token").write_text(f"{TOKEN}\n")
    (secrets / "other.key").write_text(pki.other_client_key_pem)
    (secrets / "client.key").write_text(pki.client_key_pem)
    monkeypatch.setenv("CFG_EURO_TOKEN", f"{TOKEN}-\u20ac")
    config = tmp_path / "config"
    config.mkdir()
    items = [
        source("no-secret", auth_scheme="bearer"),
        source("no-scheme", auth_secret={"file": str(secrets / "token")}),
        source("two-lines", auth_scheme="bearer", auth_secret={"file": str(secrets / "two-lines")}),
        source("euro", auth_scheme="bearer", auth_secret="${CFG_EURO_TOKEN}"),
        source("colon", auth_scheme="basic", auth_username="ops:root", auth_secret={"file": str(secrets / "token")}),
        source(
            "mismatch",
            tls_client_cert_pem=pki.client_cert_pem,
            tls_client_key={"file": str(secrets / "other.key")},
        ),
        source("no-cert", tls_client_key={"file": str(secrets / "client.key")}),
        source("no-key", tls_client_cert_pem=pki.client_cert_pem),
    ]
    (config / "sources.yaml").write_text(text({"sources": items}))
    make_source("kept", url="http://127.0.0.1:9/kept")
    before = counts()

    code, out, err = run_config("plan", "-f", str(config))
    assert code == 1, (out, err)
    found = [line.split(": ", 2)[1:] for line in err.splitlines() if line.startswith("sources.yaml:")]
    assert found == [
        ["sources[0].auth_secret", "Type the password or token for this authentication scheme."],
        ["sources[1].auth_scheme", "Choose Basic or Bearer for the password or token."],
        [
            "sources[2].auth_secret",
            "The password or token contains a line feed (LF): a Bearer token is sent in an HTTP header as it is.",
        ],
        [
            "sources[3].auth_secret",
            "The password or token has characters HTTP headers cannot carry (beyond Latin-1): a Bearer token is sent "
            "in an HTTP header as it is.",
        ],
        [
            "sources[4].auth_username",
            "A Basic username cannot contain a colon (RFC 7617): the upstream would take the rest for the password.",
        ],
        ["sources[5].tls_client_key", "the private key does not belong to the client certificate"],
        ["sources[6].tls_client_cert_pem", "A client key needs its client certificate."],
        ["sources[7].tls_client_key", "Paste the private key of the client certificate."],
    ], err

    code, out, err = run_config("apply", "-f", str(config), "--yes")
    assert code == 1
    for shown in (out, err):
        assert TOKEN not in shown
        assert "rotated" not in shown
        assert pki.client_key_pem.splitlines()[1] not in shown
        assert pki.other_client_key_pem.splitlines()[1] not in shown
    assert counts() == before
    assert not AuditEvent.objects.filter(action="config.apply").exists()


def test_it_refuses_a_token_a_header_cannot_carry_over_the_api(
    client: Client, setup_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_user("root", superuser=True)
    _token, raw = ApiToken.issue(root, "ci", role=Role.ADMIN, team=default_team())
    monkeypatch.setenv("CFG_LF_TOKEN", f"{TOKEN}\n\n")  # a variable keeps every "\n" it holds
    files = {"s.yaml": text({"sources": [source("lf", auth_scheme="bearer", auth_secret="${CFG_LF_TOKEN}")]})}
    answer = client.post("/api/v1/config/apply", data=json.dumps(files), content_type="application/json", **bearer(raw))
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "config_invalid"
    found = [(p["file"], p["line"], p["path"]) for p in error["details"]["problems"]]
    assert found == [("s.yaml", 6, "sources[0].auth_secret")]
    assert "contains a line feed (LF)" in error["details"]["problems"][0]["message"]
    assert TOKEN not in answer.content.decode()
    assert not Source.objects.filter(slug="lf").exists()


def test_it_stores_a_key_that_matches_its_certificate_and_plans_no_change_after(
    setup_settings: Any, tmp_path: Path, pki: Pki
) -> None:
    key_file = tmp_path / "client.key"
    key_file.write_text(pki.client_key_pem.strip() + "\n\n")
    item = source("mtls", tls_client_cert_pem=pki.client_cert_pem, tls_client_key={"file": str(key_file)})
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(text({"sources": [item]}))
    assert run_config("apply", "-f", str(config), "--yes")[0] == 0
    stored = Source.objects.get(slug="mtls")
    assert crypto.decrypt(stored.tls_client_key_encrypted).strip() == pki.client_key_pem.strip()
    # The same key, saved without its last newline (as the admin stores it: one newline at the end).
    key_file.write_text(pki.client_key_pem.strip())
    assert run_config("plan", "-f", str(config)) == (0, "No changes: the stored setup matches the files.\n", "")
    assert problems({"s.yaml": text({"sources": [{**item, "tls_client_cert_pem": ""}]})}) == [
        "s.yaml:5: sources[0].tls_client_cert_pem: A client key needs its client certificate."
    ]


def test_it_refuses_at_plan_time_a_password_or_token_too_long_for_a_header_naming_the_field(
    setup_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    too_long = TOKEN * (MAX_SECRET_BYTES // len(TOKEN) + 1)
    monkeypatch.setenv("CFG_LONG_TOKEN", too_long)
    monkeypatch.setenv("CFG_TOKEN", too_long[:MAX_SECRET_BYTES])
    items = [
        source("long", auth_scheme="bearer", auth_secret="${CFG_LONG_TOKEN}"),
        source("at-the-limit", auth_scheme="bearer", auth_secret="${CFG_TOKEN}"),
    ]
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(text({"sources": items}))
    before = counts()

    code, out, err = run_config("plan", "-f", str(config))
    assert code == 1, (out, err)
    found = [line.split(": ", 2)[1:] for line in err.splitlines() if line.startswith("sources.yaml:")]
    assert found == [
        [
            "sources[0].auth_secret",
            f"The password or token is {len(too_long)} bytes long, over the {MAX_SECRET_BYTES} allowed: it is sent "
            "in the Authorization header, which most servers refuse over 8 KiB.",
        ]
    ], err
    assert TOKEN not in out + err
    assert counts() == before


def test_it_refuses_at_plan_time_credentials_sent_without_tls_verification_until_acknowledged(
    setup_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFG_TOKEN", TOKEN)
    bearer_token = {"auth_scheme": "bearer", "auth_secret": "${CFG_TOKEN}"}
    acknowledged = source("acknowledged", tls_verify=False, insecure_credentials_acknowledged=True, **bearer_token)
    items = [
        source("unverified", tls_verify=False, **bearer_token),
        source("header", tls_verify=False, headers={"X-Api-Key": "${CFG_TOKEN}"}),
        acknowledged,
    ]
    config = tmp_path / "config"
    found = refused_plan(config, items)
    unverified = "anyone on the network path could pose as the upstream and read what it sends. Turn verification on"
    assert [path for path, _message in found] == ["sources[0].tls_verify", "sources[1].tls_verify"], found
    assert found[0][1].startswith(f"Verification is off while the source sends its Bearer token: {unverified}")
    assert found[1][1].startswith(f"Verification is off while the source sends the header X-Api-Key: {unverified}")

    # Acknowledged, it is stored, and the decision is planned again as no change.
    stored = applied_then_planned_unchanged(config, acknowledged)
    assert (
        stored.tls_verify,
        stored.insecure_credentials_acknowledged,
        crypto.decrypt(stored.auth_secret_encrypted),
    ) == (
        False,
        True,
        TOKEN,
    )


def test_it_refuses_at_plan_time_credentials_sent_over_plain_http_beyond_loopback_until_acknowledged(
    setup_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lan_host: str
) -> None:
    monkeypatch.setenv("CFG_TOKEN", TOKEN)
    plain = f"http://{lan_host}:9/status"
    bearer_token = {"auth_scheme": "bearer", "auth_secret": "${CFG_TOKEN}"}
    acknowledged = source("acknowledged", url=plain, insecure_credentials_acknowledged=True, **bearer_token)
    items = [
        source("plain", url=plain, **bearer_token),
        source("header", url=plain, headers={"X-Api-Key": "${CFG_TOKEN}"}),
        source("loopback", **bearer_token),  # http://127.0.0.1: never leaves the machine
        source("secure", url=f"https://{lan_host}:9/status", **bearer_token),
        acknowledged,
    ]
    config = tmp_path / "config"
    found = refused_plan(config, items)
    readable = "anyone on the network path can read what it sends. Use https, or acknowledge"
    assert [path for path, _message in found] == ["sources[0].url", "sources[1].url"], found
    assert found[0][1].startswith(f"The URL is plain http while the source sends its Bearer token: {readable}")
    assert found[1][1].startswith(f"The URL is plain http while the source sends the header X-Api-Key: {readable}")

    # Acknowledged, it is stored, and the decision is planned again as no change.
    stored = applied_then_planned_unchanged(config, acknowledged)
    assert (stored.url, stored.insecure_credentials_acknowledged) == (plain, True)
