"""Idempotency-Keys are unique per line of API keys, as they are looked up: a key and the keys
it was rolled into share one scope (``ApiKey.budget_id``), so twins sent with the old and the
new key of a roll's grace period meet at the constraint instead of both being sent.

Existing rows get their key's scope. Twins from before (rare: the same Idempotency-Key on both
keys of a roll, at once) would break the new constraint: the first keeps the scope, which is
the one a retry finds. The constraint is added by the next migration: PostgreSQL refuses to
alter a table in the transaction that updated it while its deferred checks are pending.
"""

from django.db import migrations, models
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce


def scope_existing_keys(apps, schema_editor):
    Message = apps.get_model("messaging", "Message")
    ApiKey = apps.get_model("accounts", "ApiKey")
    lineage = ApiKey.objects.filter(pk=OuterRef("api_key_id")).values("lineage_id")
    keyed = Message.objects.filter(idempotency_key__isnull=False, api_key__isnull=False)
    keyed.update(idempotency_scope=Coalesce(Subquery(lineage), F("api_key_id")))
    twins = (
        Message.objects.filter(idempotency_scope__isnull=False)
        .values("idempotency_scope", "idempotency_key")
        .annotate(rows=Count("pk"))
        .filter(rows__gt=1)
    )
    for twin in twins:
        same = Message.objects.filter(
            idempotency_scope=twin["idempotency_scope"], idempotency_key=twin["idempotency_key"]
        ).order_by("created_at", "pk")
        later = list(same.values_list("pk", flat=True))[1:]
        Message.objects.filter(pk__in=later).update(idempotency_scope=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_api_key_test_mode"),
        ("messaging", "0012_inbound_of_no_account"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="message", name="one_message_per_idempotency_key"),
        migrations.AddField(
            model_name="message",
            name="idempotency_scope",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(scope_existing_keys, migrations.RunPython.noop),
    ]
