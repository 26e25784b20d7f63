"""A component's name and a maintenance window's title are unique within their page (configuration as code
keys them by page + name and page + title).

Components or windows already sharing one on a page are renamed first, so that nothing is lost: by id, the
first keeps it and the others get " (2)", " (3)", ... (a number none of the page's has yet), shortened to
stay within the field's length. Each rename is logged. Reversed, the constraints go and the names stay.
"""

from django.db import migrations, models

from devops_insights import naming

def rename_twins(apps, schema_editor):
    db = schema_editor.connection.alias
    naming.rename_twins(apps.get_model("statuspages", "Component").objects.using(db), "page_id", "name", "component")
    windows = apps.get_model("statuspages", "MaintenanceWindow").objects.using(db)
    naming.rename_twins(windows, "page_id", "title", "maintenance window")


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
