"""The shared pool becomes a choice (``Gateway.shared``) instead of what an empty account
meant. A phone with no account now sends for nobody until an operator gives it an account or
marks it shared (the admin warns about each).

Existing phones with no account: with a single account (an install from before accounts, or
one that never added a second), they become that account's, which is what they did for it.
With several, which tenants such a phone was meant for cannot be known: it is left with no
account, and the operator decides (README, "Upgrading").

The constraint comes in the next migration: PostgreSQL refuses to alter a table in the
transaction that updated its foreign keys (their deferred checks are still pending).
"""

from django.db import migrations, models


def give_accountless_phones_the_only_account(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    Gateway = apps.get_model("gateways", "Gateway")
    accounts = list(Account.objects.values_list("pk", flat=True)[:2])
    if len(accounts) == 1:
        Gateway.objects.filter(account__isnull=True).update(account_id=accounts[0])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_api_key_test_mode"),
        ("gateways", "0003_app_phones"),
    ]

    operations = [
        migrations.AddField(
            model_name="gateway",
            name="shared",
            field=models.BooleanField(
                default=False,
                help_text="Sends for every account (it then has no account of its own).",
                verbose_name="Shared pool",
            ),
        ),
        migrations.RunPython(give_accountless_phones_the_only_account, migrations.RunPython.noop),
    ]
