"""How an SMS text travels: GSM-7 when every character fits the GSM 03.38 alphabet, UCS-2
otherwise, and how many segments (billable parts) it takes."""

from __future__ import annotations

import math
from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table cost two septets (an escape, then the character).
GSM7_EXTENSION = set("^{}\\[~]|€\f")

GSM7 = "gsm7"
UCS2 = "ucs2"


@dataclass(frozen=True)
class SmsEncoding:
    encoding: str
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def sms_encoding(text: str) -> SmsEncoding:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        segments = 1 if septets <= 160 else math.ceil(septets / 153)
        return SmsEncoding(GSM7, septets, segments)
    # Characters outside the Basic Multilingual Plane (most emoji) take two UTF-16 units.
    units = len(text.encode("utf-16-le")) // 2
    segments = 1 if units <= 70 else math.ceil(units / 67)
    return SmsEncoding(UCS2, units, segments)
