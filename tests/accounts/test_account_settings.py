"""The accounts settings from the environment: SSO providers only when configured, secrets from files,
EMAIL_URL, and one clear line for each bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.run_manage import assert_one_line_error, run_manage

SHOW = (
    "from django.conf import settings; import json; "
    "print(json.dumps({'providers': settings.SOCIALACCOUNT_PROVIDERS, 'email': settings.EMAIL_BACKEND, "
    "'host': settings.EMAIL_HOST, 'mfa': settings.REQUIRE_MFA_FOR_STAFF, "
    "'domains': settings.SSO_ALLOWED_EMAIL_DOMAINS}))"
)


def settings_with(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    result = run_manage("shell", "-c", SHOW, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_it_configures_no_provider_by_default(tmp_path: Path) -> None:
    assert settings_with({}, tmp_path)["providers"] == {}


def test_it_configures_each_provider_from_its_variables_and_secret_files(tmp_path: Path) -> None:
    secret = tmp_path / "github-secret"
    secret.write_text("gh-secret-from-file\n")
    shown = settings_with(
        {
            "SSO_OIDC_CLIENT_ID": "insights",
            "SSO_OIDC_CLIENT_SECRET": "oidc-secret",
            "SSO_OIDC_SERVER_URL": "https://login.example.com/realms/ops",
            "SSO_GITHUB_CLIENT_ID": "gh-id",
            "SSO_GITHUB_CLIENT_SECRET_FILE": str(secret),
            "SSO_GITLAB_CLIENT_ID": "gl-id",
            "SSO_GITLAB_URL": "https://gitlab.example.com",
            "SSO_ALLOWED_EMAIL_DOMAINS": "Example.com, @example.org",
        },
        tmp_path,
    )
    providers = shown["providers"]
    assert isinstance(providers, dict)
    assert set(providers) == {"openid_connect", "github", "gitlab"}
    oidc = providers["openid_connect"]["APPS"][0]
    assert oidc["settings"]["server_url"] == "https://login.example.com/realms/ops"
    assert providers["github"]["APPS"][0]["secret"] == "gh-secret-from-file"
    assert providers["gitlab"]["APPS"][0]["settings"]["gitlab_url"] == "https://gitlab.example.com"
    assert shown["domains"] == ["example.com", "example.org"]


def test_it_reads_the_email_backend_from_email_url(tmp_path: Path) -> None:
    shown = settings_with({"EMAIL_URL": "smtp+tls://mailer:pw@smtp.example.com:587"}, tmp_path)
    assert (shown["email"], shown["host"]) == ("django.core.mail.backends.smtp.EmailBackend", "smtp.example.com")


def test_it_requires_a_second_factor_for_staff_outside_debug_only(tmp_path: Path) -> None:
    assert settings_with({}, tmp_path)["mfa"] is False  # DJANGO_DEBUG defaults to on
    assert settings_with({"REQUIRE_MFA_FOR_STAFF": "true"}, tmp_path)["mfa"] is True


@pytest.mark.parametrize(
    ("env", "variable", "words"),
    [
        ({"SSO_OIDC_CLIENT_ID": "insights"}, "SSO_OIDC_SERVER_URL", "must be set when SSO_OIDC_CLIENT_ID is"),
        ({"SSO_OIDC_CLIENT_ID": "x", "SSO_OIDC_SERVER_URL": "login.example.com"}, "SSO_OIDC_SERVER_URL", "not a URL"),
        ({"EMAIL_URL": "pigeon://user:hunter2@coop"}, "EMAIL_URL", "could not be parsed as an e-mail URL"),
        ({"ACCOUNT_EMAIL_VERIFICATION": "sometimes"}, "ACCOUNT_EMAIL_VERIFICATION", "expected one of"),
        ({"LOGIN_RATE_LIMIT_USERNAME": "five"}, "LOGIN_RATE_LIMIT_USERNAME", "expected a rate"),
        ({"REQUIRE_MFA_FOR_STAFF": "maybe"}, "REQUIRE_MFA_FOR_STAFF", "expected true or false"),
    ],
)
def test_it_rejects_bad_account_settings_in_one_line(
    tmp_path: Path, env: dict[str, str], variable: str, words: str
) -> None:
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert_one_line_error(result, variable, words)
    assert "hunter2" not in result.stderr
