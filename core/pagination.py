"""Cursor pagination, newest first: a cursor is the last item's (time, id), opaque to clients."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from .times import parse_zoned_time

Id = TypeVar("Id")


class InvalidCursor(ValueError):
    pass


def cursor_encode(at: datetime, pk: object) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def cursor_decode(value: str, *, parse_id: Callable[[str], Id]) -> tuple[datetime, Id]:
    """(time, id) of a cursor ``cursor_encode`` wrote; ``parse_id`` turns the id's text back
    into an id, raising ``ValueError`` for one that cannot be. Raises ``InvalidCursor``."""
    try:
        at, pk = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().rsplit("|", 1)
        moment = parse_zoned_time(at)
        if moment is None:
            raise ValueError(at)
        return moment, parse_id(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(value) from None


def page_of(rows: list, *, limit: int, key: Callable[[object], tuple[datetime, object]]) -> tuple[list, str | None]:
    """The first ``limit`` of ``rows`` (read with ``limit + 1``) and the next page's cursor,
    or None on the last page."""
    items = rows[:limit]
    return items, (cursor_encode(*key(items[-1])) if len(rows) > limit else None)


def page_read(
    read: Callable[..., list], filters: dict[str, Any], *, key: Callable[[Any], tuple[datetime, object]]
) -> tuple[list, str | None]:
    """One page of ``read``'s rows and the next page's cursor. ``filters`` is a checked query,
    its names ``read``'s parameters; its ``limit`` (50 if absent) is asked for plus one row,
    which tells whether another page follows."""
    filters = dict(filters)
    limit = filters.pop("limit", 50)
    return page_of(read(limit=limit + 1, **filters), limit=limit, key=key)
