"""What a correction proposes, checked, and how it reads from and writes to a record.

Values travel as small JSON objects (stored encrypted in ``proposed``/``previous``):
``{"value": "..."}`` for a name or a birth date (ISO), ``{"id_type": ..., "number": ...}``
for an ID number.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from vaxport.core.errors import ONE_OF, invalid
from vaxport.core.i18n import N_
from vaxport.registration.models import CORRECTABLE_FIELDS, Beneficiary, BeneficiaryDocument
from vaxport.registration.schemas import NAME_MAX
from vaxport.registration.validation import MAX_AGE_YEARS, match_key
from vaxport.tenancy.service import TenantInfo, validate_id_number

REASON_MAX = 500
NOTE_MAX = 500


def check_field(field: str) -> str:
    """``field`` if a citizen may ask to correct it (422 otherwise)."""
    if field not in CORRECTABLE_FIELDS:
        raise invalid("field", ONE_OF, choices=", ".join(CORRECTABLE_FIELDS))
    return field


def check_text(value: str | None, *, field: str, maximum: int, required: bool) -> str | None:
    """A trimmed free text (a reason, a decision note) within ``maximum`` characters."""
    text = (value or "").strip()
    if not text:
        if required:
            raise invalid(field, N_("is required"))
        return None
    if len(text) > maximum:
        raise invalid(field, N_("must be at most {maximum} characters"), maximum=maximum)
    if any(ord(c) < 0x20 and c not in "\n\t" for c in text):
        raise invalid(field, N_("must not contain control characters"))
    return text


def check_name(value: str, *, field: str) -> str:
    """A person's name as registration stores it (NFC, single spaces)."""
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise invalid(field, N_("must not be empty"))
    if len(text) > NAME_MAX or any(unicodedata.category(c).startswith("C") for c in text):
        raise invalid(field, N_("must be at most {maximum} printable characters"), maximum=NAME_MAX)
    return text


def check_birth_date(value: str, *, field: str, today: dt.date) -> dt.date:
    """An ISO birth date, neither in the future (after the tenant's ``today``) nor beyond
    registration's oldest age."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise invalid(field, N_("must be a date (YYYY-MM-DD)")) from None
    if day > today:
        raise invalid(field, N_("is in the future"))
    if day.year < today.year - MAX_AGE_YEARS:
        raise invalid(field, N_("is more than {years} years ago"), years=MAX_AGE_YEARS)
    return day


def proposal(tenant: TenantInfo, field: str, value: str, id_type: str | None) -> dict[str, Any]:
    """The checked, normalised proposal for ``field`` (422 naming ``value``/``id_type``)."""
    if field in ("given_name", "family_name"):
        return {"value": check_name(value, field="value")}
    if field == "birth_date":
        day = check_birth_date(value, field="value", today=tenant.config.local_today())
        return {"value": day.isoformat()}
    if not id_type:
        raise invalid("id_type", N_("is required to correct an ID number"))
    number = validate_id_number(
        config=tenant.config, id_type=id_type, value=value, field="value", type_field="id_type"
    )
    return {"id_type": id_type, "number": number}


def current(
    beneficiary: Beneficiary, field: str, document: BeneficiaryDocument | None
) -> dict[str, Any] | None:
    """The record's present value of ``field``, in the proposal's shape."""
    if field == "id_number":
        if document is None:
            return None
        return {"id_type": document.id_type, "number": document.number}
    if field == "birth_date":
        day = beneficiary.birth_date
        return {"value": day.isoformat()} if day is not None else None
    present = getattr(beneficiary, field)
    return {"value": present} if present is not None else None


def apply(beneficiary: Beneficiary, field: str, proposed: dict[str, Any]) -> None:
    """Write a name or birth date into the record and its duplicate key (ID numbers live
    on documents)."""
    if field == "birth_date":
        day = dt.date.fromisoformat(proposed["value"])
        beneficiary.birth_date = day
        beneficiary.birth_year = day.year
    else:
        setattr(beneficiary, field, proposed["value"])
    beneficiary.match = match_key(
        beneficiary.family_name,
        beneficiary.given_name or "",
        beneficiary.birth_date,
        beneficiary.birth_year,
    )
