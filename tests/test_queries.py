"""Hand-written SQL (each app's queries.py) agrees with the models it reads and writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps

import core.queries
import gateways.queries
import messaging.queries
import otp.queries

MODULES = [core.queries, messaging.queries, gateways.queries, otp.queries]
APP_OF_MODULE = {module: module.__name__.split(".")[0] for module in MODULES}


@pytest.mark.parametrize(
    ("model", "columns"),
    [
        pytest.param(model, columns, id=f"{model.__name__}:{columns[0]}")
        for m in MODULES
        for model, columns in m.COLUMN_LISTS
    ],
)
def test_every_column_list_names_columns_of_its_model(model, columns):
    known = {field.column for field in model._meta.concrete_fields}
    assert set(columns) <= known, f"not columns of {model.__name__}: {set(columns) - known}"
    assert len(columns) == len(set(columns))


def test_the_message_insert_writes_every_column_or_names_its_default():
    """A column added to Message must be written by the send path's INSERT, have its database
    default named, or be nullable (NULL is then what the row holds), or the message the send
    path returns would lie about it."""
    message = apps.get_model("messaging", "Message")
    written = set(messaging.queries.MESSAGE_INSERT_COLUMNS) | set(messaging.queries.MESSAGE_INSERT_DEFAULTS)
    left_null = {field.column for field in message._meta.concrete_fields if field.null} - written
    everything = {field.column for field in message._meta.concrete_fields}
    assert written | left_null == everything, everything - written - left_null


def test_the_otp_insert_writes_every_column_but_its_id():
    model = apps.get_model("otp", "Otp")
    assert set(otp.queries.OTP_INSERT_COLUMNS) | {"id"} == {f.column for f in model._meta.concrete_fields}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_each_apps_statements_touch_only_its_own_tables(module):
    own = {model._meta.db_table for model in apps.get_app_config(APP_OF_MODULE[module]).get_models()}
    ours = {model._meta.db_table for model in apps.get_models()}
    for name, value in vars(module).items():
        statements = value.values() if isinstance(value, dict) else [value]
        for sql in statements:
            if not isinstance(sql, str) or not re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE)\b", sql):
                continue
            tables = set(re.findall(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+\"?(\w+)", sql)) & ours
            assert tables <= own, f"{module.__name__}.{name} reads {tables - own}"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_statuses_are_bound_from_the_enums_not_typed_in(module):
    """A status typed into SQL by hand would survive a rename of the enum's value."""
    source = Path(module.__file__).read_text()
    assert not re.search(r"status\s*=\s*'[a-z]+'", source), "use the enum (f'{MessageStatus.X.value}')"
