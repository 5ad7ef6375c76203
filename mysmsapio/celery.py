"""Celery application: production runs `celery -A mysmsapio worker` and `celery -A mysmsapio beat`.

Embedded mode needs neither: tasks run eagerly and the beat schedule runs on a thread
(`mysmsapio.scheduler`).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysmsapio.settings")

app = Celery("mysmsapio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
