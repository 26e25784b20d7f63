"""The flags the code asks about (provisioning/flags.py), in their first state; frozen here as history."""

from __future__ import annotations

from typing import Any

from django.db import migrations

INITIAL = {
    "config_api": {"everyone": None, "superusers": True, "note": "POST /api/v1/config/plan|apply; docs/feature-flags.md"},
    "live_changes": {"everyone": True, "superusers": True, "note": "changes page follows live; docs/feature-flags.md"},
}


def create(apps: Any, schema_editor: Any) -> None:
    flag = apps.get_model("provisioning", "Flag")
    for name, fields in INITIAL.items():
        flag.objects.get_or_create(name=name, defaults=fields)


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("provisioning", "Flag").objects.filter(name__in=list(INITIAL)).delete()


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
