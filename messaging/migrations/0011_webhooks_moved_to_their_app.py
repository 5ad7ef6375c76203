# The webhook models moved to the webhooks app (webhooks.0001 adopts their tables): state only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0001_initial'),
        ('messaging', '0010_fewer_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='webhookendpoint',
                    name='account',
                ),
                migrations.RemoveField(
                    model_name='webhookevent',
                    name='endpoint',
                ),
                migrations.DeleteModel(
                    name='WebhookAttempt',
                ),
                migrations.DeleteModel(
                    name='WebhookEndpoint',
                ),
                migrations.DeleteModel(
                    name='WebhookEvent',
                ),
            ],
            database_operations=[],
        ),
    ]
