# RateLimitCounter now belongs to the kernel (core.0001 adopts the table): state only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("mysmsapio", "0001_initial"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RateLimitCounter")],
            database_operations=[],
        ),
    ]
