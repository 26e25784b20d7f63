"""Where the repository is, for tests that run ``manage.py`` or read the project's own files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
