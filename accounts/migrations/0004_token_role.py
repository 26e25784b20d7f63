"""A token carries a role (viewer, operator, admin) instead of a read/write scope; an audit event names the team
of its object.

Existing tokens: "read" becomes viewer, "write" becomes admin (a write token could only change sources, which is
the admin's right now). At every use a token's role is capped by its owner's, so a write token of a user who is
only a viewer of the default team acts as a viewer.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ROLE_OF_SCOPE = {"read": "viewer", "write": "admin"}  # frozen here: the history may not follow later changes


def scope_to_role(apps, schema_editor):
    tokens = apps.get_model("accounts", "ApiToken").objects.using(schema_editor.connection.alias)
    for scope, role in ROLE_OF_SCOPE.items():
        tokens.filter(scope=scope).update(role=role)


def role_to_scope(apps, schema_editor):
    tokens = apps.get_model("accounts", "ApiToken").objects.using(schema_editor.connection.alias)
    tokens.filter(role="viewer").update(scope="read")
    tokens.exclude(role="viewer").update(scope="write")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_teams"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="role",
            field=models.CharField(
                choices=[("viewer", "Viewer"), ("operator", "Operator"), ("admin", "Admin")],
                default="viewer",
                max_length=10,
            ),
        ),
        migrations.RunPython(scope_to_role, role_to_scope),
        migrations.RemoveField(model_name="apitoken", name="scope"),
        migrations.AddField(
            model_name="auditevent",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="accounts.team",
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["team", "created_at"], name="accounts_au_team_id_db17c9_idx"),
        ),
    ]
