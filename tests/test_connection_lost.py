"""Which database errors make the phone server replace its pooled connections
(core.db.database_pool_renew): a lost connection does, a statement's own failure does not."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import psycopg
import pytest
from django.db import OperationalError
from psycopg import errors
from psycopg_pool import PoolTimeout

from core import db


def as_django_raises_it(cause: Exception) -> OperationalError:
    """``cause`` wrapped as Django's error wrapper does (``raise ... from`` the driver's)."""
    try:
        try:
            raise cause
        except Exception as driver_error:
            raise OperationalError(str(driver_error)) from driver_error
    except OperationalError as wrapped:
        return wrapped


LOST = [
    errors.AdminShutdown("terminating connection due to administrator command"),  # 57P01: a restart
    errors.CannotConnectNow("the database system is starting up"),  # 57P03
    errors.ConnectionFailure("connection failure"),  # 08006
    psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
]
NOT_LOST = [
    errors.DeadlockDetected("deadlock detected"),
    errors.SerializationFailure("could not serialize access"),
    errors.QueryCanceled("canceling statement due to statement timeout"),
    errors.LockNotAvailable("could not obtain lock"),
    PoolTimeout("couldn't get a connection after 10.00 sec"),
    sqlite3.OperationalError("database is locked"),
]


@pytest.mark.parametrize("cause", LOST, ids=lambda e: type(e).__name__)
def test_a_connection_ended_by_the_server_or_broken_is_lost(cause):
    assert db.database_connection_lost(as_django_raises_it(cause))


@pytest.mark.parametrize("cause", NOT_LOST, ids=lambda e: type(e).__name__)
def test_a_statements_own_failure_or_an_empty_pool_is_not(cause):
    assert not db.database_connection_lost(as_django_raises_it(cause))


def test_the_pool_is_renewed_only_after_a_lost_connection(monkeypatch):
    drained = []
    pool = SimpleNamespace(get_stats=lambda: {"pool_available": 2, "pool_size": 3}, drain=lambda: drained.append(1))
    monkeypatch.setattr(db, "connection", SimpleNamespace(pool=pool))
    db.database_pool_renew(as_django_raises_it(errors.DeadlockDetected("deadlock detected")))
    assert drained == []
    db.database_pool_renew(as_django_raises_it(errors.AdminShutdown("terminating connection")))
    assert drained == [1]
