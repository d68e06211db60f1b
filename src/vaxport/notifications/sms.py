"""SMS length and encoding: GSM 03.38 7-bit (with its extension table) or UCS-2.

A text that fits the GSM-7 alphabet costs one septet per character, two for extension
characters (``€ [ ] { } \\ ^ ~ |`` and form feed, sent as ESC + char). Anything else
forces UCS-2 for the whole message: 16-bit units, where characters outside the Basic
Multilingual Plane (most emoji) take a surrogate pair, i.e. two units.

One message holds 160 septets / 70 units; a concatenated message spends a 6-byte user
data header per part, leaving 153 septets / 67 units. Phones never split an escape
sequence or a surrogate pair across parts, so parts are filled greedily with whole
characters, which can cost one more part than plain division.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

Encoding = Literal["GSM-7", "UCS-2"]
_LIMITS: dict[str, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


class SmsSegments(NamedTuple):
    encoding: Encoding
    segments: int
    units: int


def is_gsm7(text: str) -> bool:
    """Whether every character has a GSM-7 encoding (basic or extension table)."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _widths(text: str, encoding: Encoding) -> list[int]:
    if encoding == "GSM-7":
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def sms_segments(text: str) -> SmsSegments:
    """(encoding, number of SMS parts, GSM septets or UCS-2 code units) for ``text``.

    The empty text is one (empty) message.
    """
    encoding: Encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    widths = _widths(text, encoding)
    units = sum(widths)
    single, part = _LIMITS[encoding]
    if units <= single:
        return SmsSegments(encoding, 1, units)
    segments, used = 1, 0
    for w in widths:
        if used + w > part:
            segments += 1
            used = 0
        used += w
    return SmsSegments(encoding, segments, units)


def first_non_gsm7(text: str) -> str | None:
    """The first character that forces UCS-2, to name it in a warning."""
    return next((c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION), None)
