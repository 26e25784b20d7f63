"""The migrated SQLite database every end-to-end stack starts from, migrated once per test session.

Each stack of real processes (daphne, pollers, the simulator) runs on its own SQLite file in its VAR_DIR.
``manage.py migrate`` on an empty file runs every migration of every app: a few seconds on an idle machine,
past two minutes on two cores shared with other test runs, which put the set-up of those tests past their
timeouts. The schema it builds depends on the source tree alone, so the session's first caller migrates a
template and every caller gets a copy of it.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tests.paths import ROOT

DATABASE_NAME = "devops_insights.sqlite3"  # devops_insights/settings.py: VAR_DIR / this without DATABASE_URL

_lock = threading.Lock()
_template: Path | None = None


def migrate_into(var_dir: Path, env: dict[str, str], timeout: float = 600) -> None:
    """``var_dir``'s database as ``manage.py migrate`` run with ``env`` leaves it (``env`` names no DATABASE_URL).

    ``timeout`` guards the one real migrate against a hang; on a loaded machine it takes minutes.
    """
    assert "DATABASE_URL" not in env, "the copy is a SQLite file: run migrate itself for another database"
    template = _migrated_template(env, timeout)
    # SQLite's backup API, not a file copy: it takes what the migrations committed, whatever is in the WAL.
    source = sqlite3.connect(template / DATABASE_NAME)
    target = sqlite3.connect(var_dir / DATABASE_NAME)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _migrated_template(env: dict[str, str], timeout: float) -> Path:
    global _template
    with _lock:
        if _template is None:
            template = Path(tempfile.mkdtemp(prefix="di-migrated-"))
            atexit.register(shutil.rmtree, template, ignore_errors=True)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env={**env, "VAR_DIR": str(template)},
                check=True,
                timeout=timeout,
            )
            _template = template
        return _template
