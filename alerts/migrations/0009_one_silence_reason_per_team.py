"""A silence's reason is unique within its team (configuration as code keys silences by team + reason), except
among the silences a status page's maintenance window keeps for its sources, which share their window's reason
and follow it (``Silence.kept_by_window``, marked here from the windows' links).

Silences already sharing a reason in a team are renamed first, so that nothing is lost: by id, the first keeps
the reason and the others get " (2)", " (3)", ... (a number no silence of the team has yet), as the Alerts page
names a silence (devops_insights/naming.py), the reason shortened to stay within its 300 characters. Each
rename is logged. Reversed, the constraint and the mark go and the reasons stay.
"""

from django.db import migrations, models

from devops_insights import naming


def mark_and_rename(apps, schema_editor):
    db = schema_editor.connection.alias
    Silence = apps.get_model("alerts", "Silence")
    Window = apps.get_model("statuspages", "MaintenanceWindow")
    kept = Window.silences.through.objects.using(db).values_list("silence_id", flat=True)
    Silence.objects.using(db).filter(pk__in=kept).update(kept_by_window=True)
    naming.rename_twins(Silence.objects.using(db).filter(kept_by_window=False), "team_id", "reason", "silence")


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0008_one_alert_rule_name_per_team"),
        # The windows' links to the silences they keep.
        ("statuspages", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="silence",
            name="kept_by_window",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(mark_and_rename, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="silence",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kept_by_window", False)),
                fields=("team", "reason"),
                name="one_silence_reason_per_team",
                violation_error_message="The team already has a silence with this reason.",
            ),
        ),
    ]
