from __future__ import annotations

import re

import phonenumbers

# "+", a country code and the subscriber number: 8 to 15 digits in all (ITU-T E.164).
E164_PATTERN = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone_number(value: object) -> str | None:
    """The E.164 form of ``value``, or None when it is not a possible international number.

    "Possible" (right length for its country), not libphonenumber's stricter "valid": the
    guide's own example ``+959123456789`` is possible but not valid, and must be accepted.
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
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


def carrier_for_number(number: str) -> str:
    """The recipient's mobile carrier as libphonenumber knows it ("MPT", "Ooredoo"...), or ""."""
    from phonenumbers import carrier

    try:
        return carrier.name_for_number(phonenumbers.parse(number, None), "en")
    except phonenumbers.NumberParseException:
        return ""
