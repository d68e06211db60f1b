"""Contact details as staff give them: validated and normalised before encryption."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from vaxport.core.errors import invalid
from vaxport.tenancy.service import TenantInfo


def normalise_email(value: str | None, *, field: str = "email") -> str | None:
    """A syntactically valid e-mail address, lower-cased (None stays None)."""
    if value is None or not value.strip():
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise invalid(field, "is not a valid e-mail address") from exc


def normalise_phone(tenant: TenantInfo, value: str | None, *, field: str = "phone") -> str | None:
    """A possible phone number in E.164, national numbers read in the tenant's region."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value.strip(), tenant.config.phone.default_region)
    except phonenumbers.NumberParseException as exc:
        raise invalid(field, "is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, "is not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
