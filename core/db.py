"""Fixed statements of the hot paths (each app's queries.py), run without the ORM.

The ORM compiles a query anew on every call: for the send path's INSERT that compilation cost
more CPU than PostgreSQL spent executing it (bench/api_send.py). Statements that never change
are written in SQL that both backends accept (``%s`` placeholders, quoted names) and run
through Django's cursor (so query logging, test query budgets and error translation work as
for the ORM). On PostgreSQL, Django's ``server_side_binding`` (settings) has psycopg prepare
a statement from its sixth run on each connection: measured against our own prepared cursor
(Django's private ``_prepare_cursor``), no slower on ``bench/api_send.py`` (bench/results.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from django.db import connection, migrations, models
from psycopg_pool import PoolTimeout

M = TypeVar("M", bound=models.Model)
logger = logging.getLogger(__name__)


def execute_prepared(sql: str, params: Sequence[Any], *, fetch: bool = True) -> list[tuple[Any, ...]]:
    """Run ``sql`` with ``params``; returns its rows when ``fetch`` (a SELECT, or RETURNING)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if fetch else []
    # Times stored as the ORM stores them (naive UTC text): SQLite compares text, and a zone
    # suffix on one side only would make equal times unequal.
    params = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if fetch else []
    # SQLite hands back the stored UTC times without their zone, which the ORM would add.
    return [tuple(_aware(value) for value in row) for row in rows]


def database_connection_lost(exc: BaseException) -> bool:
    """Whether a database error (Django's, psycopg's below it) says the connection itself is
    gone: the server restarted or ended it (SQLSTATE classes 08 and 57P), or it broke with no
    answer at all. Not a statement's own failure (a deadlock, a timeout), nor a pool that had
    no connection to give."""
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate.startswith(("08", "57P"))
    return isinstance(cause, psycopg.OperationalError) and not isinstance(cause, PoolTimeout)


def database_pool_renew(exc: BaseException) -> None:
    """After ``exc`` ended a call: if it lost its connection, replace the pool's connections
    (psycopg's ``ConnectionPool.drain``: the idle ones now, those in use when they come back).
    A database restart kills them all, and found one at a time each would fail one more call
    (a phone's report, its goodbye). Only such a failure pays for this: checking each
    connection handed out would cost a round trip per call, and renewing after a deadlock or
    a timeout would only cost reconnections. No pool (SQLite, persistent connections):
    nothing to do."""
    pool = getattr(connection, "pool", None)
    if pool is None or not database_connection_lost(exc):
        return
    stats = pool.get_stats()
    pool.drain()
    logger.warning(
        "database pool renewed after a lost connection (%s idle of %s)", stats["pool_available"], stats["pool_size"]
    )


def model_from_row(model: type[M], fields: Sequence[str], row: Sequence[Any]) -> M:
    """An instance of ``model`` from a row of ``fields`` (in any order), as the ORM loads one:
    the other fields deferred. (``Model.from_db`` wants the values in the model's field order.)"""
    by_name = dict(zip(fields, row, strict=True))
    names = [f.attname for f in model._meta.concrete_fields if f.attname in by_name]
    return model.from_db(None, names, [by_name[name] for name in names])


def as_datetime(value: Any) -> datetime | None:
    """A time read back from SQLite by a raw aggregate (MIN, MAX) comes back as text."""
    if isinstance(value, str):
        return _aware(datetime.fromisoformat(value))
    return value


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def drop_pattern_ops_indexes(*columns: tuple[str, str]) -> migrations.RunPython:
    """A migration operation dropping the ``varchar_pattern_ops`` indexes that Django adds on
    PostgreSQL beside the index of a unique or indexed ``CharField`` (``(table, column)`` each).
    They serve only ``LIKE 'prefix%'``, which no query of ours runs, and every INSERT and
    non-HOT UPDATE of the row pays for them. Other databases have none."""

    def run(apps: Any, schema_editor: Any, *, drop: bool) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in columns:
            name = schema_editor.quote_name(schema_editor._create_index_name(table, [column], suffix="_like"))
            if drop:
                schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
            else:
                target = f"{schema_editor.quote_name(table)} ({schema_editor.quote_name(column)} varchar_pattern_ops)"
                schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    # Not elidable: a squash that dropped it would give new databases the indexes back.
    return migrations.RunPython(functools.partial(run, drop=True), functools.partial(run, drop=False))
