"""Every existing source row moves into the default team (made by accounts 0003)."""

import django.db.models.deletion
from django.db import migrations, models


def to_default_team(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    db = schema_editor.connection.alias  # the database being migrated, not always "default"
    team, _ = Team.objects.using(db).get_or_create(slug="default", defaults={"name": "Default"})
    for name in ['source']:
        apps.get_model("pollers", name).objects.using(db).filter(team__isnull=True).update(team=team)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_teams'),
        ('pollers', '0006_source_pinned_metrics'),
    ]

    operations = [
        migrations.AddField(
            model_name='source',
            name='team',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='sources', to='accounts.team'),
        ),
        migrations.RunPython(to_default_team, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='source',
            name='team',
            field=models.ForeignKey(blank=True, on_delete=django.db.models.deletion.PROTECT, related_name='sources', to='accounts.team'),
        ),
    ]
