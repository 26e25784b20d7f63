"""The flags the code asks about (provisioning/flags.py), in their first state; frozen here as history."""

from __future__ import annotations

from typing import Any

from django.db import migrations

INITIAL = {
    "config_api": {"everyone": None, "superusers": True, "note": "POST /api/v1/config/plan|apply; docs/feature-flags.md"},
    "live_changes": {"everyone": True, "superusers": True, "note": "changes page follows live; docs/feature-flags.md"},
}


def create(apps: Any, schema_editor: Any) -> None:
    # The database being migrated (a test's second database too), not always the default one.
    flags = apps.get_model("provisioning", "Flag").objects.using(schema_editor.connection.alias)
    for name, fields in INITIAL.items():
        flags.get_or_create(name=name, defaults=fields)


def remove(apps: Any, schema_editor: Any) -> None:
    flags = apps.get_model("provisioning", "Flag").objects.using(schema_editor.connection.alias)
    flags.filter(name__in=list(INITIAL)).delete()


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
