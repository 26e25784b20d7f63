"""Helpers of the provisioning tests: YAML text from plain data, the problems of a run, counts of stored rows."""

from __future__ import annotations

from io import StringIO
from typing import Any

import yaml
from django.core.management import call_command

from alerts.models import AlertRule, NotificationChannel, Silence
from metrics.lifecycle.models import RetentionPolicy
from pollers.models import Source
from provisioning.models import Flag
from provisioning.plan import make_plan
from provisioning.problems import ConfigInvalid


def text(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def problems(files: dict[str, str], **options: Any) -> list[str]:
    try:
        make_plan(files, **options)
    except ConfigInvalid as exc:
        return [str(problem) for problem in exc.problems]
    raise AssertionError("the files were accepted")


def counts() -> dict[str, int]:
    """Rows of every kind the files describe: to show that a refused run changed nothing."""
    from accounts.models import Team

    models = (Team, Source, AlertRule, NotificationChannel, Silence, RetentionPolicy, Flag)
    return {model.__name__: model.objects.count() for model in models}


def run_config(*args: str) -> tuple[int, str, str]:
    """``manage.py config *args``: its exit code, stdout and stderr."""
    out, err = StringIO(), StringIO()
    try:
        call_command("config", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()
