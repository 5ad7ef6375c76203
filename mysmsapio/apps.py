from __future__ import annotations

import contextlib
import os

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created

_made_private: set[str] = set()


def _sqlite_files_private(sender: object, connection: object, **kwargs: object) -> None:
    """Embedded mode's database (phone numbers, message texts) and its WAL and shared-memory
    files: for this user alone, whatever the umask made them (they were readable by all).
    Once per process: SQLite creates the WAL and shared-memory files with the database
    file's own mode from then on (and embedded mode opens a connection per request)."""
    if getattr(connection, "vendor", "") != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if name in _made_private or name == ":memory:" or name.startswith("file:"):
        return
    for path in (name, f"{name}-wal", f"{name}-shm"):
        with contextlib.suppress(OSError):  # not there (yet), or someone else's
            os.chmod(path, 0o600)
    if os.path.exists(name):
        _made_private.add(name)


class MysmsapioConfig(AppConfig):
    name = "mysmsapio"
    verbose_name = "MySMSAPio"

    def ready(self) -> None:
        # Embedded mode's alone: a receiver, even one that returns at once, costs each new
        # connection (a request's, from PostgreSQL's pool) a signal dispatch.
        if any(db["ENGINE"].endswith("sqlite3") for db in settings.DATABASES.values()):
            connection_created.connect(_sqlite_files_private, dispatch_uid="sqlite-files-private")
        # The webhooks registered through SMS Gate's client API hear our events in its words.
        from smsgate.webhooks import TRANSLATED_EVENTS, smsgate_translate
        from webhooks.services import webhook_smsgate_translator_set

        webhook_smsgate_translator_set(smsgate_translate, events=TRANSLATED_EVENTS)
