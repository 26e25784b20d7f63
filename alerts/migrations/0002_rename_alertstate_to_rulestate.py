# alerts.AlertState is renamed RuleState (where one rule stands for one source), apart from
# pollers.SourceAlertLevel (the worst rule firing for a source). RenameModel keeps every row; the
# indexes follow the new table name and the constraint the new model name.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='alertstate',
            name='one_alert_state_per_rule_and_source',
        ),
        migrations.RenameModel(
            old_name='AlertState',
            new_name='RuleState',
        ),
        migrations.AlterField(
            model_name='rulestate',
            name='source',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rule_states', to='pollers.source'),
        ),
        migrations.RenameIndex(
            model_name='rulestate',
            new_name='alerts_rule_source__28a90a_idx',
            old_name='alerts_aler_source__144b3e_idx',
        ),
        migrations.RenameIndex(
            model_name='rulestate',
            new_name='alerts_rule_status_9515e6_idx',
            old_name='alerts_aler_status_f5c140_idx',
        ),
        migrations.AddConstraint(
            model_name='rulestate',
            constraint=models.UniqueConstraint(fields=('rule', 'source'), name='one_rule_state_per_rule_and_source'),
        ),
    ]
