from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("messaging", "0013_idempotency_scope")]

    operations = [
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                condition=models.Q(("idempotency_key__isnull", False)),
                fields=("idempotency_scope", "idempotency_key"),
                name="one_message_per_idempotency_key_scope",
            ),
        ),
    ]
