"""A component's name and a maintenance window's title are unique within their page (configuration as code
keys them by page + name and page + title).

Components or windows already sharing one on a page are renamed first, so that nothing is lost: by id, the
first keeps it and the others get " (2)", " (3)", ... (a number none of the page's has yet), shortened to
stay within the field's length. Each rename is logged. Reversed, the constraints go and the names stay.
"""

import logging

from django.db import migrations, models

logger = logging.getLogger(__name__)


def _rename_twins(rows, field, length, noun):
    listed = list(rows.order_by("pk").values_list("pk", "page_id", field))
    taken = {}
    for _pk, page_id, value in listed:
        taken.setdefault(page_id, set()).add(value)
    kept = set()
    for pk, page_id, value in listed:
        if (page_id, value) not in kept:
            kept.add((page_id, value))
            continue
        number = 2
        while True:
            suffix = f" ({number})"
            free = value[: length - len(suffix)] + suffix
            if free not in taken[page_id]:
                break
            number += 1
        taken[page_id].add(free)
        rows.filter(pk=pk).update(**{field: free})
        logger.warning("%s %s renamed %r -> %r: its page has another of that %s", noun, pk, value, free, field)


def rename_twins(apps, schema_editor):
    db = schema_editor.connection.alias
    _rename_twins(apps.get_model("statuspages", "Component").objects.using(db), "name", 120, "component")
    windows = apps.get_model("statuspages", "MaintenanceWindow").objects.using(db)
    _rename_twins(windows, "title", 200, "maintenance window")


class Migration(migrations.Migration):

    dependencies = [
        ("statuspages", "0003_alter_statuspage_custom_host"),
    ]

    operations = [
        migrations.RunPython(rename_twins, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="component",
            constraint=models.UniqueConstraint(
                fields=("page", "name"),
                name="one_component_name_per_page",
                violation_error_message="The page already has a component with this name.",
            ),
        ),
        migrations.AddConstraint(
            model_name="maintenancewindow",
            constraint=models.UniqueConstraint(
                fields=("page", "title"),
                name="one_maintenance_title_per_page",
                violation_error_message="The page already has a maintenance window with this title.",
            ),
        ),
    ]
