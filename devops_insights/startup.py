"""Load settings before anything else so a bad variable ends in one line, not a traceback."""

from __future__ import annotations

import os
import sys


def load_settings_or_exit() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_insights.settings")
    from devops_insights.config import ConfigError

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - touching a setting imports the module
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        raise SystemExit(2) from None
