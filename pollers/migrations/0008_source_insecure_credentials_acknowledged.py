"""A source's standing decision to send its credentials where anyone on the path could read them: over plain http to
a host other than loopback, or with TLS verification off (``Source.credentials_sent_unverified``).

False for every row: a source stored before the rule with credentials sent that way keeps polling, and its next
edit asks for the decision (docs/polling.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pollers', '0007_team'),
    ]

    operations = [
        migrations.AddField(
            model_name='source',
            name='insecure_credentials_acknowledged',
            field=models.BooleanField(db_default=False, default=False, help_text='Needed to save a source that sends a password, token or credential header over plain http to a host other than loopback, or with TLS verification off: anyone on the path could read them.', verbose_name='send credentials over an insecure connection'),
        ),
    ]
