"""A rule's name is unique within its team (configuration as code keys rules by team + name).

Rules already sharing a name in a team are renamed first, so that nothing is lost: by id, the first keeps
the name and the others get " (2)", " (3)", ... (a number no rule of the team has yet), the name shortened
to stay within its 120 characters. Each rename is logged. Reversed, the constraint goes and the names stay.
"""

import logging

from django.db import migrations, models

logger = logging.getLogger(__name__)
NAME_LENGTH = 120


def rename_twins(apps, schema_editor):
    rules = apps.get_model("alerts", "AlertRule").objects.using(schema_editor.connection.alias)
    rows = list(rules.order_by("pk").values_list("pk", "team_id", "name"))
    taken = {}
    for _pk, team_id, name in rows:
        taken.setdefault(team_id, set()).add(name)
    kept = set()
    for pk, team_id, name in rows:
        if (team_id, name) not in kept:
            kept.add((team_id, name))
            continue
        number = 2
        while True:
            suffix = f" ({number})"
            free = name[: NAME_LENGTH - len(suffix)] + suffix
            if free not in taken[team_id]:
                break
            number += 1
        taken[team_id].add(free)
        rules.filter(pk=pk).update(name=free)
        logger.warning("alert rule %s renamed %r -> %r: its team has another rule of that name", pk, name, free)


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
