"""The polling settings of issue 13 fail fast with one clear line, and never echo a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.run_manage import assert_one_line_error, run_manage

KEY = Fernet.generate_key().decode()


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("POLLER_MAX_JSON_DEPTH", "deep", "expected a whole number"),
        ("POLLER_MAX_JSON_DEPTH", "0", "must be at least 1"),
        ("POLLER_MAX_JSON_DEPTH", "91", "must be at most 90"),
        ("POLLER_PROXY", "socks5://127.0.0.1:1080", "unknown scheme 'socks5'"),
        ("POLLER_PROXY", "http://", "has no host"),
        ("POLLER_ALLOWED_PROXIES", "http://proxy:3128,ftp://x:21", "entry 2 has scheme 'ftp'"),
        ("POLLER_ALLOWED_PROXIES", "proxy:notaport", "entry 1 is not a valid URL"),
        ("POLLER_TRUST_ENV_PROXY", "sometimes", "expected true or false"),
        ("POLLER_CA_BUNDLE", "/nonexistent/ca.pem", "cannot read '/nonexistent/ca.pem'"),
        ("FIELD_ENCRYPTION_KEY", "short", "key 1 of 1 is not a Fernet key"),
        ("FIELD_ENCRYPTION_KEY", f"{KEY},{KEY}", "lists the same key twice"),
        ("FIELD_ENCRYPTION_KEY", f"{KEY} not-a-key", "key 2 of 2 is not a Fernet key"),
        ("POLLER_LEASE_FALLBACK", "maybe", "expected true or false"),
        ("POLLER_REDIS_RETRY_SECONDS", "0", "must be at least 0.1"),
    ],
)
def test_it_rejects_bad_polling_settings_in_one_line(tmp_path: Path, variable: str, value: str, words: str) -> None:
    assert_one_line_error(run_manage("check", env={variable: value}, tmp_path=tmp_path), variable, words)


def test_it_refuses_a_ca_bundle_that_is_not_pem(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("hello")
    assert_one_line_error(
        run_manage("check", env={"POLLER_CA_BUNDLE": str(bundle)}, tmp_path=tmp_path),
        "POLLER_CA_BUNDLE",
        "holds no PEM certificate",
    )


def test_it_never_echoes_a_key_or_a_proxy_password(tmp_path: Path) -> None:
    almost = KEY[:-2] + "!!"
    result = run_manage("check", env={"FIELD_ENCRYPTION_KEY": f"{KEY},{almost}"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert KEY not in result.stderr
    assert almost not in result.stderr
    result = run_manage("check", env={"POLLER_PROXY": "gopher://user:proxy-secret@proxy:3128"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "proxy-secret" not in result.stderr


def test_it_reads_several_keys_from_a_file(tmp_path: Path) -> None:
    second = Fernet.generate_key().decode()
    secret_file = tmp_path / "keys"
    secret_file.write_text(f"{KEY}\n{second}\n")
    script = (
        "from django.conf import settings; print(len(settings.FIELD_ENCRYPTION_KEYS), settings.POLLER_MAX_JSON_DEPTH)"
    )
    result = run_manage("shell", "-c", script, env={"FIELD_ENCRYPTION_KEY_FILE": str(secret_file)}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["2", "64"]
