"""A source's standing decision to send its credentials with TLS verification off (``Source.credentials_sent_unverified``).

False for every row: a source stored before the rule with credentials and verification off keeps polling, and its
next edit asks for the decision (docs/polling.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pollers', '0007_team'),
    ]

    operations = [
        migrations.AddField(
            model_name='source',
            name='tls_verify_off_acknowledged',
            field=models.BooleanField(db_default=False, default=False, help_text='Needed to save a source that sends a password, token or credential header while TLS verification is off: anyone on the path could pose as the upstream and read them.', verbose_name='send credentials without TLS verification'),
        ),
    ]
