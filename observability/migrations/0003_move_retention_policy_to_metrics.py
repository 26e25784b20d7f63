from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    """RetentionPolicy moves to the metrics app (metrics.lifecycle): it leaves this app's state only.

    The table, ``observability_retentionpolicy``, and its rows stay where they are: metrics 0003 takes
    the model over with ``db_table`` naming that table. Nothing changes in the database, so pods of the
    previous release keep working while this runs (docs/operations.md, Upgrades).
    """

    dependencies = [("observability", "0002_default_retention_policy")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="RetentionPolicy")],
        ),
    ]
