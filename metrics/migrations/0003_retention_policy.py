from __future__ import annotations

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    """RetentionPolicy joins the metrics app (metrics.lifecycle.models) without touching the database.

    observability 0001-0002 created the table and the global default, observability 0003 dropped the
    model from its state; this migration takes the same table (``db_table``) into the metrics app's
    state, so existing policies (global and per source) are kept as they are and the previous release
    keeps working during the upgrade. ``to="pollers.source"`` is a lazy reference: metrics never
    imports pollers.
    """

    dependencies = [
        ("metrics", "0002_metric_rollups"),
        ("observability", "0003_move_retention_policy_to_metrics"),
        ("pollers", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="RetentionPolicy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        (
                            "raw_days",
                            models.PositiveIntegerField(
                                default=7,
                                help_text="History entries with the full payload.",
                                validators=[
                                    django.core.validators.MinValueValidator(1),
                                    django.core.validators.MaxValueValidator(36500),
                                ],
                                verbose_name="raw snapshots (days)",
                            ),
                        ),
                        (
                            "minute_days",
                            models.PositiveIntegerField(
                                default=30,
                                validators=[
                                    django.core.validators.MinValueValidator(1),
                                    django.core.validators.MaxValueValidator(36500),
                                ],
                                verbose_name="1-minute rollups (days)",
                            ),
                        ),
                        (
                            "hour_days",
                            models.PositiveIntegerField(
                                default=365,
                                validators=[
                                    django.core.validators.MinValueValidator(1),
                                    django.core.validators.MaxValueValidator(36500),
                                ],
                                verbose_name="1-hour rollups (days)",
                            ),
                        ),
                        (
                            "day_days",
                            models.PositiveIntegerField(
                                blank=True,
                                help_text="Empty: kept forever.",
                                null=True,
                                validators=[
                                    django.core.validators.MinValueValidator(1),
                                    django.core.validators.MaxValueValidator(36500),
                                ],
                                verbose_name="1-day rollups (days)",
                            ),
                        ),
                        (
                            "archive_raw",
                            models.BooleanField(
                                default=False,
                                help_text="Write raw snapshots to gzip NDJSON files under ARCHIVE_DIR before deleting them.",
                                verbose_name="archive raw snapshots",
                            ),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "source",
                            models.OneToOneField(
                                blank=True,
                                help_text="Leave empty for the global default that every source without its own policy follows.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="retention_policy",
                                to="pollers.source",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "observability_retentionpolicy",
                        "verbose_name": "retention policy",
                        "verbose_name_plural": "retention policies",
                        "constraints": [
                            models.UniqueConstraint(
                                django.db.models.functions.comparison.Coalesce("source", 0),
                                name="retention_one_policy_per_scope",
                                violation_error_message=(
                                    "A retention policy for this scope (the default, or this source) exists."
                                ),
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
