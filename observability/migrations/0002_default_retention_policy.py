from __future__ import annotations

from django.db import migrations


def create_default(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The global default, so the admin shows what is in force and can edit it."""
    RetentionPolicy = apps.get_model("observability", "RetentionPolicy")
    if not RetentionPolicy.objects.filter(source__isnull=True).exists():
        RetentionPolicy.objects.create(source=None)


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_retention_policy")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
