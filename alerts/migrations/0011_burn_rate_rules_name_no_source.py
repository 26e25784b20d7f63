"""A burn-rate rule names no source and no tag (``AlertRule.clean`` refuses them now): it watches its objective's
sources whatever its scope says, yet a source it still named took it along when that source was deleted (the
key's CASCADE), and its pages named a source or tag it ignored. Configuration as code and the admin took such
rules; the Alerts page cleared them on save. The stored ones become rules of all sources (of their objective), as
the rule form saves them; nothing they evaluate changes. Each change is logged, and when any rule changed the alert
rules' cache generation is moved once after the commit (``alerts.rule_generation``), so running pollers reload
them (the rule they evaluate is the same, but their snapshot would otherwise name the source until a restart).
Reversed, nothing comes back (the source or tag was never used).
"""

import logging

from django.db import migrations, models, transaction

from alerts.rule_generation import announce_rules_changed

log = logging.getLogger("alerts")
BURN_RATE = "burn_rate"  # AlertRule.Kind.BURN_RATE: a historical model has no enum
ALL_SOURCES = "all"  # AlertRule.Scope.ALL


def clear_targets(apps, schema_editor):
    db = schema_editor.connection.alias
    Rule = apps.get_model("alerts", "AlertRule")
    named = (
        Rule.objects.using(db)
        .filter(kind=BURN_RATE)
        .filter(models.Q(source__isnull=False) | ~models.Q(tag="") | ~models.Q(scope=ALL_SOURCES))
    )
    changed = False
    for rule in named.order_by("pk"):
        log.warning(
            "burn-rate rule %s %r of team %s no longer names scope %r, source %s, tag %r: it watches its "
            "objective's sources",
            rule.pk, rule.name, rule.team_id, rule.scope, rule.source_id, rule.tag,
        )  # fmt: skip
        rule.scope, rule.source_id, rule.tag = ALL_SOURCES, None, ""
        rule.save(update_fields=["scope", "source", "tag", "updated_at"])
        changed = True
    if changed:
        # A historical model's saves reach no receiver: the rule cache is told here, after the commit (a poller
        # reloading before it would keep the old rules under the new generation), as 0010 does.
        transaction.on_commit(announce_rules_changed, using=db)


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0010_rules_follow_their_source"),
    ]

    operations = [
        migrations.RunPython(clear_targets, migrations.RunPython.noop),
    ]
