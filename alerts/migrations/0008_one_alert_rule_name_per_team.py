"""A rule's name is unique within its team (configuration as code keys rules by team + name).

Rules already sharing a name in a team are renamed first, so that nothing is lost: by id, the first keeps
the name and the others get " (2)", " (3)", ... (a number no rule of the team has yet), the name shortened
to stay within its 120 characters. Each rename is logged. Reversed, the constraint goes and the names stay.
"""

from django.db import migrations, models

from devops_insights import naming

def rename_twins(apps, schema_editor):
    rules = apps.get_model("alerts", "AlertRule").objects.using(schema_editor.connection.alias)
    naming.rename_twins(rules, "team_id", "name", "alert rule")


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0007_alertrule_objective_alertrule_sensitivity_and_more"),
    ]

    operations = [
        migrations.RunPython(rename_twins, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="alertrule",
            constraint=models.UniqueConstraint(
                fields=("team", "name"),
                name="one_alert_rule_name_per_team",
                violation_error_message="The team already has an alert rule with this name.",
            ),
        ),
    ]
