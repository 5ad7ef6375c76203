# RateLimitCounter moved here from the project package (mysmsapio): state only, the table
# (mysmsapio_ratelimitcounter) and its rows stay as they are.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("mysmsapio", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RateLimitCounter",
                    fields=[
                        ("key", models.CharField(max_length=200, primary_key=True, serialize=False)),
                        ("window_start", models.BigIntegerField()),
                        ("count", models.PositiveIntegerField()),
                    ],
                    options={"db_table": "mysmsapio_ratelimitcounter"},
                ),
            ],
            database_operations=[],
        ),
    ]
