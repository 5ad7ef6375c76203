"""Declared inputs and outputs of an API: each endpoint's body, query and answer written once,
as a class whose fields both check a request and describe it in the OpenAPI document
(drf-spectacular reads them through ``mysmsapio/openapi.py``).

Why not DRF serializers: on the hottest routes (``sms/send``, ``otp/verify``) a serializer's
``is_valid`` cost 56 us per request against 1.6 us for the checks themselves, a tenth of a
send's whole CPU (measured 2026-12-06), and it gathers every error where the contract answers
the first one, in a fixed order, with the guide's exact texts. A field here checks one value
and raises the API's own ``ValidationFailed``; the schema checks its fields in declaration
order, so the first problem is the one reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from .errors import ValidationFailed
from .text import is_storable_text
from .times import parse_zoned_time


def _unchanged(value: Any) -> Any:
    return value


class Field:
    """A value of a request or an answer: how to check it (``check``) and how to describe it
    (``json``, a JSON Schema)."""

    def __init__(
        self,
        json: dict[str, Any],
        *,
        check: Callable[[Any], Any] | None = None,
        required: bool = False,
        missing: tuple[str, str] | None = None,
        empty_is_absent: bool = False,
        name: str | None = None,
        description: str = "",
    ) -> None:
        self.json = {**json, **({"description": description} if description else {})}
        self.name = name  # the name in JSON, when it cannot be the attribute's ("from")
        # The value as the code uses it; raises ``ValidationFailed``. (An attribute, not a
        # method: one call less per field on the send path.)
        self.check: Callable[[Any], Any] = check if check is not None else _unchanged
        self.required = required
        # (text, code) of the error when a required value is absent, if not the usual one.
        self.missing = missing
        # A query string's "name=": the same as no value (declared so in the document).
        self.empty_is_absent = empty_is_absent
        if empty_is_absent:
            self.json = {"anyOf": [self.json, {"type": "string", "const": ""}]}


def json_integer(value: Any) -> Any:
    """A JSON number with no fraction is an integer (JSON Schema's rule: ``60.0`` is 60)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def integer(
    name: str, minimum: int, maximum: int, *, message: str | None = None, query: bool = False, **kwargs: Any
) -> Field:
    """An integer from ``minimum`` to ``maximum``: a JSON number, or a query string's digits."""
    message = message or f"{name} must be an integer from {minimum} to {maximum}"

    def check(value: Any) -> int:
        if query and isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        value = json_integer(value)
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise ValidationFailed(message, code=f"invalid_{name}")
        return value

    return Field({"type": "integer", "minimum": minimum, "maximum": maximum}, check=check, **kwargs)


def choice(name: str, values: list[str], **kwargs: Any) -> Field:
    message = (
        f"{name} must be {' or '.join(values)}" if len(values) == 2 else f"{name} must be one of {', '.join(values)}"
    )

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in values:
            raise ValidationFailed(message, code=f"invalid_{name}")
        return value

    return Field({"type": "string", "enum": values}, check=check, **kwargs)


def zoned_time(name: str, *, message: str | None = None, **kwargs: Any) -> Field:
    """An ISO 8601 time with a zone, in UTC."""
    message = message or f"{name} must be an ISO 8601 time with a zone, e.g. 2025-10-22T10:30:00Z"

    def check(value: Any) -> datetime:
        parsed = parse_zoned_time(value)
        if parsed is None:
            raise ValidationFailed(message, code=f"invalid_{name}")
        return parsed

    return Field({"type": "string", "format": "date-time"}, check=check, **kwargs)


def text(name: str, *, non_empty: bool = False, message: str | None = None, **kwargs: Any) -> Field:
    """A string (``non_empty``: with something besides spaces) that the database can store and
    compare: no NUL, no unpaired surrogate (JSON allows both)."""
    unstorable = message or f"{name} must not contain NUL characters or unpaired surrogates"
    message = message or f"{name} must be {'a non-empty' if non_empty else 'a'} string"

    def check(value: Any) -> str:
        if not isinstance(value, str) or (non_empty and not value.strip()):
            raise ValidationFailed(message, code=f"invalid_{name}")
        if not is_storable_text(value):
            raise ValidationFailed(unstorable, code=f"invalid_{name}")
        return value

    return Field({"type": "string", **({"minLength": 1} if non_empty else {})}, check=check, **kwargs)


def nested(schema: type[Schema], name: str, *, message: str, **kwargs: Any) -> Field:
    """A JSON object checked by ``schema``: the dict of its checked values."""

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationFailed(message, code=f"invalid_{name}")
        return schema.check(value)

    return Field(schema.json_schema(), check=check, **kwargs)


def array_of(item: Field, name: str, *, max_items: int, message: str, **kwargs: Any) -> Field:
    """A JSON array of at most ``max_items``, each checked by ``item``."""

    def check(value: Any) -> list[Any]:
        if not isinstance(value, list) or len(value) > max_items:
            raise ValidationFailed(message, code=f"invalid_{name}")
        return [item.check(element) for element in value]

    return Field({"type": "array", "maxItems": max_items, "items": item.json}, check=check, **kwargs)


def array_of_objects(
    schema: type[Schema], name: str, *, max_items: int, message: str, item_message: str, **kwargs: Any
) -> Field:
    """A JSON array of at most ``max_items`` objects, each checked by ``schema``."""
    return array_of(nested(schema, name, message=item_message), name, max_items=max_items, message=message, **kwargs)


class Schema:
    """Fields as class attributes, checked in the order they are declared; ``description``
    comes from the docstring."""

    fields: ClassVar[dict[str, Field]] = {}
    # Whether names beyond the declared ones are allowed (ignored) or make the input invalid.
    extra_fields: ClassVar[bool] = True
    description: ClassVar[str] = ""
    # An answer's schema: every field is always there.
    answers_every_field: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.description = " ".join((cls.__doc__ or "").split())
        declared = {value.name or name: value for name, value in vars(cls).items() if isinstance(value, Field)}
        cls.fields = {**cls.fields, **declared}

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """The declared values present in ``data``, checked (absent and null ones left out);
        raises ``ValidationFailed`` for the first that is missing or wrong."""
        checked: dict[str, Any] = {}
        for name, field in cls.fields.items():
            value = data.get(name)
            if value is None or (value == "" and field.empty_is_absent):
                if field.required:
                    text, code = field.missing or (f"Missing required field: {name}", "missing_field")
                    raise ValidationFailed(text, code=code)
                continue
            checked[name] = field.check(value)
        if not cls.extra_fields and (unknown := set(data) - set(cls.fields)):
            raise ValidationFailed(f"Unknown field: {sorted(unknown)[0]}", code="unknown_field")
        return checked

    @classmethod
    def answer(cls, **values: Any) -> dict[str, Any]:
        """An answer's body: exactly the declared fields (a missing or an undeclared one is a
        TypeError: the code cannot drift from the document), in the order they are given."""
        if values.keys() != cls.fields.keys():
            raise TypeError(f"{cls.__name__} answers {list(cls.fields)}, not {list(values)}")
        return values

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        properties = {name: field.json for name, field in cls.fields.items()}
        if not cls.answers_every_field:
            # An optional input may be null: the same as absent.
            properties = {
                name: json if cls.fields[name].required else {"anyOf": [json, {"type": "null"}]}
                for name, json in properties.items()
            }
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [name for name, field in cls.fields.items() if field.required or cls.answers_every_field]
        if required:
            schema["required"] = required
        if not cls.extra_fields:
            schema["additionalProperties"] = False
        if cls.description:
            schema["description"] = cls.description
        return schema

    @classmethod
    def parameters(cls) -> list[dict[str, Any]]:
        """The fields as an operation's query parameters."""
        return [
            {"name": name, "in": "query", "required": field.required, "schema": field.json}
            for name, field in cls.fields.items()
        ]


class Answer(Schema):
    """An answer's body: every declared field is always present."""

    answers_every_field = True
