"""Drop django-waffle's own flag tables: WAFFLE_FLAG_MODEL swaps its Flag for provisioning.Flag.

Waffle's first migration creates waffle_flag and its two many-to-many tables whether or not the model is
swapped. Left in place, nothing uses them, and on PostgreSQL they break ``manage.py flush`` (and every
transactional test's teardown): waffle_flag_groups references auth_group, but a swapped model's tables
are not in the list flush truncates, so TRUNCATE auth_group is refused.
"""

from django.db import migrations

UNUSED = ("waffle_flag_users", "waffle_flag_groups", "waffle_flag")


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0002_initial_flags"),
        ("waffle", "0004_update_everyone_nullbooleanfield"),
    ]

    operations = [
        migrations.RunSQL([f"DROP TABLE IF EXISTS {table}" for table in UNUSED], migrations.RunSQL.noop),
    ]
