from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    """RetentionPolicy moves to the metrics app (metrics.lifecycle): its table is renamed here, rows
    and all, and the model leaves this app's state; metrics 0003 takes the renamed table over."""

    dependencies = [("observability", "0002_default_retention_policy")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="RetentionPolicy", table="metrics_retentionpolicy"),
            ],
            state_operations=[migrations.DeleteModel(name="RetentionPolicy")],
        ),
    ]
