"""Alerting settings: bad values stop every entry point with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.run_manage import assert_one_line_error, run_manage


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("ALERTS_ENABLED", "perhaps", "expected true or false"),
        ("ALERTS_RENOTIFY_INTERVAL", "10", "must be at least 60"),
        ("ALERTS_DELIVERY_MODE", "carrier-pigeon", "expected one of thread, command"),
        ("ALERTS_DELIVERY_CONCURRENCY", "0", "must be at least 1"),
        ("ALERTS_WEBHOOK_TIMEOUT", "soon", "expected a number"),
        ("ALERTS_PUBLIC_URL", "ftp://insights.example.com", "unknown scheme 'ftp'"),
        ("EMAIL_PORT", "smtp", "expected a whole number"),
        ("ALERT_RULES_RECHECK_SECONDS", "-1", "must be at least 0.0"),
        ("ALERT_RULES_RECHECK_SECONDS", "a second", "expected a number"),
    ],
)
def test_it_rejects_bad_alerting_settings_in_one_line(tmp_path: Path, variable: str, value: str, words: str) -> None:
    assert_one_line_error(run_manage("check", env={variable: value}, tmp_path=tmp_path), variable, words)


def test_it_sends_mail_over_smtp_only_when_a_host_is_set(tmp_path: Path) -> None:
    show = "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.DEFAULT_FROM_EMAIL)"
    console = run_manage("shell", "-c", show, env={}, tmp_path=tmp_path)
    assert console.stdout.strip().splitlines()[-1].split() == [
        "django.core.mail.backends.console.EmailBackend",
        "devops-insights@localhost",
    ]
    smtp = run_manage(
        "shell", "-c", show, env={"EMAIL_HOST": "mail.example.com", "ALERTS_EMAIL_FROM": "a@x.io"}, tmp_path=tmp_path
    )
    assert smtp.stdout.strip().splitlines()[-1].split() == ["django.core.mail.backends.smtp.EmailBackend", "a@x.io"]
