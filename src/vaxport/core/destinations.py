"""Destination checks: phone numbers to E.164, e-mail address syntax.

Both raise :class:`~vaxport.core.errors.ValidationFailed` naming the field, so a form or
API handler can pass the error straight back as problem+json. The reasons never repeat
the value (it is personal data and error bodies get logged by proxies).
"""

from __future__ import annotations

from email.utils import parseaddr

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from vaxport.core.errors import invalid

_MAX_PHONE_CHARS = 40
_MAX_EMAIL_CHARS = 254  # RFC 5321 path limit
_SMS_CAPABLE = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.VOIP,
}
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: (
        "has no valid country code; start with + and the country code"
    ),
    NumberParseException.NOT_A_NUMBER: "is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    NumberParseException.TOO_SHORT_NSN: "is too short",
    NumberParseException.TOO_LONG: "is too long",
}


def normalize_phone(
    raw: str,
    *,
    default_region: str | None,
    field: str = "phone",
    require_sms: bool = False,
) -> str:
    """``raw`` as E.164 (``+33612345678``); national forms use the tenant's region.

    ``require_sms`` refuses numbers that cannot receive SMS (fixed lines, toll-free...).
    """
    text = (raw or "").strip()
    if not text:
        raise invalid(field, "is required")
    if len(text) > _MAX_PHONE_CHARS:
        raise invalid(field, "is too long")
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise invalid(field, _PARSE_REASONS.get(exc.error_type, "is not a phone number")) from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or "its country"
        raise invalid(field, f"is not a valid phone number for {where}")
    if require_sms and phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise invalid(field, "cannot receive SMS (not a mobile number)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str, *, field: str = "email") -> str:
    """A syntactically valid address, domain normalised (IDNA, lower case); no DNS lookups."""
    text = (raw or "").strip()
    if not text:
        raise invalid(field, "is required")
    if len(text) > _MAX_EMAIL_CHARS:
        raise invalid(field, "is too long")
    if any(c in text for c in "<>\r\n,;") or text.count("@") != 1:
        raise invalid(field, "must be a single address like name@example.org")
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        # The library's message quotes the input; ours does not.
        raise invalid(field, "is not a valid e-mail address") from None
    return str(result.normalized)


def parse_sender(value: str) -> tuple[str, str]:
    """A From:/Reply-To: value (``Name <addr>`` or ``addr``) as (display name, address)."""
    if "\r" in value or "\n" in value:
        raise ValueError("sender must be one line")
    name, addr = parseaddr(value)
    if not addr:
        raise ValueError("sender must be an address like 'Vaxport <no-reply@example.org>'")
    try:
        checked = normalize_email(addr, field="sender")
    except Exception as exc:
        raise ValueError("sender address is not a valid e-mail address") from exc
    return name, checked
