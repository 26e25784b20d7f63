"""Teams: every existing token, and (in the pollers and alerts migrations that depend on this one) every
source, rule, channel and silence moves into the default team; existing staff become its admins and
every other user its viewer."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


DEFAULT_SLUG = "default"  # frozen here: accounts.models.DEFAULT_TEAM_SLUG may change, this history may not
DEFAULT_NAME = "Default"


def seed_default_team(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    Membership = apps.get_model("accounts", "Membership")
    ApiToken = apps.get_model("accounts", "ApiToken")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    db = schema_editor.connection.alias  # the database being migrated, not always "default"
    team, _ = Team.objects.using(db).get_or_create(slug=DEFAULT_SLUG, defaults={"name": DEFAULT_NAME})
    Membership.objects.using(db).bulk_create(
        [
            Membership(team=team, user=user, role="admin" if user.is_staff or user.is_superuser else "viewer")
            for user in User.objects.using(db).all()
        ],
        ignore_conflicts=True,
    )
    ApiToken.objects.using(db).filter(team__isnull=True).update(team=team)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_audit_event'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Team',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True)),
                ('slug', models.SlugField(unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('viewer', 'Viewer'), ('operator', 'Operator'), ('admin', 'Admin')], default='viewer', max_length=10)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='accounts.team')),
            ],
            options={
                'ordering': ['team__name', 'user__username'],
                'constraints': [models.UniqueConstraint(fields=('team', 'user'), name='one_membership_per_team_and_user')],
            },
        ),
        migrations.AddField(
            model_name='apitoken',
            name='team',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to='accounts.team'),
        ),
        migrations.RunPython(seed_default_team, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='apitoken',
            name='team',
            field=models.ForeignKey(blank=True, on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to='accounts.team'),
        ),
    ]
