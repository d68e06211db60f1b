"""Registration test data: Demoland members with valid, unique ID numbers."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from vaxport.tenancy.checksums import luhn_check_digit

_counter = itertools.count(1)


def national_id(seed: int | None = None) -> str:
    """A Luhn-valid 10-digit Demoland national ID, different on every call."""
    n = seed if seed is not None else secrets.randbelow(10**8) * 10 + next(_counter) % 10
    payload = f"{n % 10**9:09d}"
    return payload + luhn_check_digit(payload)


def member(**changes: Any) -> dict[str, Any]:
    """A valid adult member body for the demo tenant (override any field)."""
    body: dict[str, Any] = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "sex": "female",
        "birth_date": "1985-12-10",
        "documents": [{"id_type": "national-id", "number": national_id()}],
        "region_code": "CEN-01-01",
        "preferred_locale": "en",
    }
    body.update(changes)
    return body
