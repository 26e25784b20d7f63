"""The polling settings of issue 13 fail fast with one clear line, and never echo a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


# Copied from the configuration tests (small, and this file must not depend on where those live).
def run_manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_", "POLLER_", "FIELD_ENCRYPTION_"))
    }
    base.update({"VAR_DIR": str(tmp_path)})
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], variable: str, words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}:"), lines[0]
    assert words in lines[0]


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
