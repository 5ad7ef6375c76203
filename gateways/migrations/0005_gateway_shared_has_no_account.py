from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("gateways", "0004_shared_pool_explicit")]

    operations = [
        migrations.AddConstraint(
            model_name="gateway",
            constraint=models.CheckConstraint(
                condition=models.Q(("shared", False), ("account__isnull", True), _connector="OR"),
                name="gateway_shared_has_no_account",
                violation_error_message="A shared-pool phone has no account of its own: choose one or the other.",
            ),
        ),
    ]
