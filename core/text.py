"""What text the database can store: no NUL character (PostgreSQL refuses it in text) and
no lone UTF-16 surrogate (valid in JSON as ``"\\ud83d"``, yet not encodable as UTF-8)."""

from __future__ import annotations


def is_storable_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(value: str) -> str:
    """``value`` made storable: what a phone reports is kept, its unstorable characters
    replaced by U+FFFD."""
    if is_storable_text(value):
        return value
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)
