"""The alert rules naming a source of another team are mended as a source's move mends them now
(``alerts.source_moves.follow_moved_source``, the one home): a rule watching the source alone moves into the
source's team (a free name there, the old team's channels dropped), a burn-rate rule stays with its objective
and stops naming the source.

Before that receiver, ``config apply examples/config`` took the demo sources over into the example's team and
left their "unreachable" rules (``seed_demo``) in the default team, never firing; an admin moving a source left
its rules the same way. Each change is logged, and when any rule changed the alert rules' cache generation is
moved once after the commit (``alerts.rule_generation``), so running pollers reload them. Reversed, nothing
moves back (the old placement was the fault).
"""

from django.db import migrations, models, transaction

from alerts.rule_generation import announce_rules_changed
from alerts.source_moves import follow_moved_source


def mend_rules(apps, schema_editor):
    db = schema_editor.connection.alias
    Rule = apps.get_model("alerts", "AlertRule")
    Source = apps.get_model("pollers", "Source")
    changed = False
    strays = Rule.objects.using(db).filter(source__isnull=False).exclude(team_id=models.F("source__team_id"))
    for source_id, team_id in (
        Source.objects.using(db).filter(pk__in=strays.values("source_id")).order_by("pk").values_list("pk", "team_id")
    ):
        moved, cleared = follow_moved_source(Rule, source_id, team_id)
        changed = changed or bool(moved or cleared)
    if changed:
        # A historical model's saves reach no receiver, so the rule cache is told here, or running pollers would
        # evaluate the old rules until they restart. After the commit: a poller reloading before it would keep
        # the old rules under the new generation.
        transaction.on_commit(announce_rules_changed, using=db)


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0009_one_silence_reason_per_team"),
        # The sources' teams.
        ("pollers", "0007_team"),
    ]

    operations = [
        migrations.RunPython(mend_rules, migrations.RunPython.noop),
    ]
