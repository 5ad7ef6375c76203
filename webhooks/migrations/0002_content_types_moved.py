# Operators' permissions on the webhook models (and the admin's history of them) are tied to
# their content types: moved with the models, so that nobody loses a permission.

import functools

from django.db import migrations

MODELS = ["webhookendpoint", "webhookevent", "webhookattempt"]


def move(apps, schema_editor, *, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("messaging", "0011_webhooks_moved_to_their_app"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(
            functools.partial(move, source="messaging", target="webhooks"),
            functools.partial(move, source="webhooks", target="messaging"),
        ),
    ]
