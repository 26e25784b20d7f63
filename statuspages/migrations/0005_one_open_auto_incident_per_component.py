"""An incident opened automatically remembers the component it was opened for (``Incident.opened_for``), and
a component has at most one such incident unresolved, draft or published (a partial unique index).

Existing automatic incidents (those with the alert firing that opened them, ``opened_by_event``) are marked
first, with the first component they were opened with. Where a component already has several unresolved
ones (the defect this fixes: a published one, and a second draft opened beside it), the published one is
marked, else the oldest; the others stay as they are, open and unchanged, but no longer count as the
component's automatic incident, so the team resolves or deletes them as it sees fit. Each is logged;
nothing is resolved or deleted. Reversed, the constraint and the field go.
"""

import logging

import django.db.models.deletion
from django.db import migrations, models

logger = logging.getLogger("devops_insights.migrations")


def mark_automatic_incidents(apps, schema_editor):
    db = schema_editor.connection.alias
    Incident = apps.get_model("statuspages", "Incident")
    links = Incident.components.through.objects.using(db)
    taken = set()  # components given an unresolved automatic incident here
    automatic = Incident.objects.using(db).filter(opened_by_event__isnull=False)
    for incident in automatic.order_by("is_draft", "started_at", "pk").iterator():
        # The component it was opened with is its first link (the one added at creation).
        first = links.filter(incident_id=incident.pk).order_by("pk").values_list("component_id", flat=True).first()
        if first is None:
            continue
        if incident.status != "resolved":
            if first in taken:
                logger.warning(
                    "incident %s left unmarked: component %s already has an open automatic incident", incident.pk, first
                )
                continue
            taken.add(first)
        Incident.objects.using(db).filter(pk=incident.pk).update(opened_for_id=first)


class Migration(migrations.Migration):

    dependencies = [
        ("statuspages", "0004_one_component_name_and_maintenance_title_per_page"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="opened_for",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="auto_incidents",
                to="statuspages.component",
                verbose_name="opened automatically for",
            ),
        ),
        migrations.RunPython(mark_automatic_incidents, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="incident",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "resolved"), _negated=True),
                fields=("opened_for",),
                name="one_open_auto_incident_per_component",
                violation_error_message="The component already has an open incident opened automatically.",
            ),
        ),
    ]
