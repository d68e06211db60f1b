"""The one contact normaliser: phone numbers to E.164, e-mail addresses checked and lower-cased.

Every context (registration, identity, facilities, notifications) and the blind index call
these two functions, so a contact is stored, looked up and matched in one form whichever
door it came in by. Core knows no tenant: the caller passes the tenant's phone region.

The rules (the strictest of the copies they replace):

- **Phone**: trimmed, at most 40 characters, parsed with ``region`` for national forms
  (``+`` and a country code otherwise), and accepted only when phonenumbers calls it a
  *valid* number (``is_valid_number``: a number plan's length and prefix, not merely a
  possible length). Stored as E.164.
- **E-mail**: trimmed, at most 254 characters (RFC 5321), one bare address (no display
  name, list or header injection), syntax checked by email-validator without DNS
  (internationalised local parts and domains allowed; the domain is normalised to
  Unicode), then lower-cased whole.

Errors are :class:`~vaxport.core.errors.ValidationFailed` naming the field; the reason
never repeats the value (it is personal data and error bodies reach logs).
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from vaxport.core.errors import invalid
from vaxport.core.i18n import N_

__all__ = ["MAX_EMAIL_CHARS", "MAX_PHONE_CHARS", "normalise_email", "normalise_phone"]

MAX_PHONE_CHARS = 40
MAX_EMAIL_CHARS = 254  # RFC 5321 path limit
NOT_VALID_PHONE = N_("is not a valid phone number")
NOT_VALID_EMAIL = N_("is not a valid e-mail address")
_SMS_CAPABLE = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.VOIP,
}
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: N_(
        "has no valid country code; start with + and the country code"
    ),
    NumberParseException.TOO_LONG: N_("is too long"),
}


class E164(str):
    """A phone number as :func:`normalise_phone` returned it (checked, in E.164).

    Normalising it again gives itself without parsing it again: a registration's phone
    is checked once by validation, and its blind index (which normalises what it is
    given, whoever gives it) reuses the result instead of a second libphonenumber parse.
    """

    __slots__ = ()


class CheckedEmail(str):
    """An e-mail address as :func:`normalise_email` returned it (checked, lower-cased):
    normalising it again gives itself, as :class:`E164` does for phones (a registration's
    address is checked by validation; its blind index no longer runs email-validator a
    second time)."""

    __slots__ = ()


def normalise_phone(
    raw: str, *, region: str | None, field: str = "phone", require_sms: bool = False
) -> str:
    """``raw`` as E.164 (``+33612345678``); national forms are read in ``region``.

    ``region`` is the tenant's ISO 3166 alpha-2 phone region (None: international form
    only). ``require_sms`` also refuses numbers that cannot receive SMS (fixed lines...).
    """
    if type(raw) is E164 and not require_sms:
        return raw  # ours, checked already (E.164 does not depend on the region)
    text = (raw or "").strip()
    if not text:
        raise invalid(field, N_("is required"))
    if len(text) > MAX_PHONE_CHARS:
        raise invalid(field, N_("is too long"))
    if not any(c.isdigit() for c in text):
        raise invalid(field, N_("is not a phone number"))
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except NumberParseException as exc:
        raise invalid(field, _PARSE_REASONS.get(exc.error_type, NOT_VALID_PHONE)) from None
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, NOT_VALID_PHONE)
    if require_sms and phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise invalid(field, N_("cannot receive SMS (not a mobile number)"))
    return E164(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_email(raw: str, *, field: str = "email") -> str:
    """A syntactically valid address, trimmed and lower-cased (IDN domains in Unicode)."""
    if type(raw) is CheckedEmail:
        return raw  # ours, checked already
    text = (raw or "").strip()
    if not text:
        raise invalid(field, N_("is required"))
    if len(text) > MAX_EMAIL_CHARS:
        raise invalid(field, N_("is too long"))
    if any(c in text for c in "<>\r\n,;"):
        raise invalid(field, N_("must be a single address like name@example.org"))
    if text.count("@") != 1:
        raise invalid(field, NOT_VALID_EMAIL)
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        # The library's message quotes the input; ours does not.
        raise invalid(field, NOT_VALID_EMAIL) from None
    return CheckedEmail(str(result.normalized).lower())


def example_phone(region: str) -> str:
    """A mobile number of ``region`` as people there write it (``070-123 45 67`` for SE),
    for hints and placeholders: libphonenumber's example, never a real subscriber's."""
    number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if number is None:
        number = phonenumbers.example_number(region)
    if number is None:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
