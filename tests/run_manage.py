"""``manage.py`` in a subprocess with a clean environment, and the one-line configuration error it must print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

from tests.paths import ROOT


def database_url() -> str:
    """This test's default database, for another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def clean_env(tmp_path: Path) -> dict[str, str]:
    """This environment without the caller's own service URLs, poller settings and keys, which would change
    what is tested."""
    inherited = ("DJANGO_", "DATABASE_", "REDIS_", "MONGODB_", "POLLER_", "FIELD_ENCRYPTION_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(inherited)}, "VAR_DIR": str(tmp_path)}


def run_manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def talking_shell(code: str, tmp_path: Path) -> subprocess.Popen[str]:
    """``code`` in ``manage.py shell`` on this test's database, with pipes to talk to it line by line while it
    runs (another process taking a lock, say): the caller writes to its stdin, reads its stdout and ends it."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code],
        cwd=ROOT,
        env={**clean_env(tmp_path), "DATABASE_URL": database_url()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], variable: str, words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}:"), lines[0]
    assert words in lines[0]
    assert "Traceback" not in result.stderr
