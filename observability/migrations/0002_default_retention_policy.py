from __future__ import annotations

from django.db import migrations


def create_default(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The global default, so the admin shows what is in force and can edit it."""
    RetentionPolicy = apps.get_model("observability", "RetentionPolicy")
    # The database being migrated, which is not always the default one (test and contract aliases).
    policies = RetentionPolicy.objects.using(schema_editor.connection.alias)
    if not policies.filter(source__isnull=True).exists():
        policies.create(source=None)


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_retention_policy")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
