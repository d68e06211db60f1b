"""Check-digit algorithms used by national ID documents: Luhn (mod 10) and Verhoeff.

Both work on strings of ASCII digits whose last digit is the check digit. ``*_is_valid``
returns False (never raises) for anything that is not a non-empty digit string, so callers
can feed it untrusted input; ``*_check_digit`` computes the digit to append to a payload.
"""

from __future__ import annotations

from collections.abc import Callable

# Verhoeff: multiplication in the dihedral group D5, a position-dependent permutation and
# the group inverse. It catches every single-digit error and every adjacent transposition,
# which Luhn does not (Luhn misses 09 <-> 90).
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def _is_digits(value: str) -> bool:
    # str.isdigit() accepts non-ASCII digits ("٣", "²"); ID numbers are ASCII only.
    return bool(value) and value.isascii() and value.isdigit()


def _require_digits(payload: str) -> None:
    if not _is_digits(payload):
        raise ValueError("payload must be a non-empty string of ASCII digits")


def _verhoeff_state(digits: str, offset: int) -> int:
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[(i + offset) % 8][ord(ch) - 48]]
    return c


def verhoeff_is_valid(value: str) -> bool:
    """True when ``value`` (digits, check digit last) passes the Verhoeff check."""
    return _is_digits(value) and _verhoeff_state(value, 0) == 0


def verhoeff_check_digit(payload: str) -> str:
    """The Verhoeff check digit to append to ``payload``."""
    _require_digits(payload)
    return str(_VERHOEFF_INV[_verhoeff_state(payload, 1)])


def _luhn_sum(digits: str, double_first: bool) -> int:
    total = 0
    double = double_first
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        double = not double
    return total


def luhn_is_valid(value: str) -> bool:
    """True when ``value`` (digits, check digit last) passes the Luhn mod-10 check."""
    return _is_digits(value) and _luhn_sum(value, double_first=False) % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The Luhn check digit to append to ``payload``."""
    _require_digits(payload)
    return str((10 - _luhn_sum(payload, double_first=True) % 10) % 10)


CHECKS: dict[str, Callable[[str], bool]] = {
    "none": lambda _value: True,
    "luhn": luhn_is_valid,
    "verhoeff": verhoeff_is_valid,
}
