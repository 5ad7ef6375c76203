# The webhook models moved here from messaging: state only, their tables and rows stay.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('messaging', '0010_fewer_indexes'),
        ('accounts', '0004_api_key_test_mode'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='WebhookEndpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.URLField(max_length=500)),
                        ('events', models.JSONField(default=list)),
                        ('sealed_secret', models.TextField(editable=False)),
                        ('sealed_previous_secret', models.TextField(blank=True, editable=False)),
                        ('previous_secret_until', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('enabled', models.BooleanField(default=True)),
                        ('failing_since', models.DateTimeField(blank=True, null=True)),
                        ('disabled_reason', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_endpoints', to='accounts.account')),
                    ],
                    options={
                        'db_table': 'messaging_webhookendpoint',
                    },
                ),
                migrations.CreateModel(
                    name='WebhookEvent',
                    fields=[
                        ('id', models.CharField(editable=False, max_length=40, primary_key=True, serialize=False)),
                        ('event', models.CharField(max_length=30)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed (gave up)')], default='pending', max_length=10)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='webhooks.webhookendpoint')),
                    ],
                    options={
                        'db_table': 'messaging_webhookevent',
                    },
                ),
                migrations.CreateModel(
                    name='WebhookAttempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('latency_ms', models.PositiveIntegerField(default=0)),
                        ('response_excerpt', models.CharField(blank=True, max_length=500)),
                        ('error', models.CharField(blank=True, max_length=300)),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='webhooks.webhookevent')),
                    ],
                    options={
                        'db_table': 'messaging_webhookattempt',
                        'ordering': ['-at'],
                    },
                ),
                migrations.AddIndex(
                    model_name='webhookevent',
                    index=models.Index(fields=['status', 'next_attempt_at'], name='webhook_due_idx'),
                ),
            ],
            database_operations=[],
        ),
    ]
