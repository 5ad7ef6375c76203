from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import carrier

# "+", a country code and the subscriber number: 8 to 15 digits in all (ITU-T E.164).
E164_PATTERN = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone_number(value: object) -> str | None:
    """The E.164 form of ``value``, or None when it is not a possible international number.

    "Possible" (right length for its country), not libphonenumber's stricter "valid": the
    guide's own example ``+959123456789`` is possible but not valid, and must be accepted.
    """
    if not isinstance(value, str):
        return None
    return _normalize(value.strip())


# libphonenumber's parsing is the costliest pure step of a send, and clients send to the same
# numbers again and again: remember the answers (bounded; pure functions of the text).
@functools.lru_cache(maxsize=20_000)
def _normalize(value: str) -> str | None:
    if not E164_PATTERN.match(value):
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    # IS_POSSIBLE only: a number that is "possible" only for local dialling is not reachable.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=20_000)
def region_for_number(number: str) -> str:
    """The ISO 3166 region of an E.164 number ("MM"), or "" when libphonenumber cannot tell."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


@functools.lru_cache(maxsize=20_000)
def carrier_for_number(number: str) -> str:
    """The recipient's mobile carrier as libphonenumber knows it ("MPT", "Ooredoo"...), or ""."""
    try:
        return carrier.name_for_number(phonenumbers.parse(number, None), "en")
    except phonenumbers.NumberParseException:
        return ""
