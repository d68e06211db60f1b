"""The one contact rule: phones to E.164 in the tenant's region, e-mails checked and lower-cased.

Field errors name the field and never echo the input (it is personal data).
"""

from __future__ import annotations

import phonenumbers
import pytest

from vaxport.core.contacts import normalise_email, normalise_phone
from vaxport.core.crypto.blind import normalise as blind_normalise
from vaxport.core.crypto.errors import InvalidFieldValueError
from vaxport.core.destinations import parse_sender
from vaxport.core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # National forms are read in the tenant's region (each country file's region).
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("(613) 555-0199", "CA", "+16135550199"),
        ("613.555.0199", "CA", "+16135550199"),
        ("098765 43210", "IN", "+919876543210"),
        ("070-123 45 67", "SE", "+46701234567"),
        ("0803 123 4567", "ng", "+2348031234567"),  # region case does not matter
        # International forms win over the region.
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("+1 (650) 253-0000", "FR", "+16502530000"),
        ("+46701234567", "CA", "+46701234567"),
        ("0033 6 12 34 56 78", "FR", "+33612345678"),  # international prefix of the region
        # Spaces around and inside.
        ("  +44 7911 123456 ", "FR", "+447911123456"),
        ("\t6135550199\n", "CA", "+16135550199"),
        # Already E.164: unchanged (the rule is idempotent).
        ("+16135550199", "CA", "+16135550199"),
    ],
)
def test_numbers_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalise_phone(raw, region=region) == expected
    assert normalise_phone(expected, region=region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "FR", "is required"),
        ("   ", "FR", "is required"),
        ("hello", "FR", "is not a phone number"),
        ("9", "FR", "is not a valid phone number"),
        ("06 12", "FR", "is not a valid phone number"),  # possible length? no: too short
        ("12345", "CA", "is not a valid phone number"),
        ("+1 555 555 0100", "CA", "is not a valid phone number"),  # possible, not valid
        ("+44 7700 900123", "FR", "is not a valid phone number"),  # drama range: not valid
        ("612345678", None, "country code"),
        ("1" * 60, "FR", "is too long"),
    ],
)
def test_bad_numbers_give_field_errors(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalise_phone(raw, region=region, field="contact.phone")
    [error] = info.value.errors
    assert error["field"] == "contact.phone"
    assert reason in error["reason"]
    if raw.strip():
        assert raw.strip() not in error["reason"]


def test_fixed_lines_are_refused_when_sms_is_required() -> None:
    assert normalise_phone("01 42 68 53 00", region="FR") == "+33142685300"
    with pytest.raises(ValidationFailed, match="cannot receive SMS"):
        normalise_phone("01 42 68 53 00", region="FR", require_sms=True)
    assert normalise_phone("06 12 34 56 78", region="FR", require_sms=True)


def test_a_checked_number_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation checks a registration's phone; its blind index reuses the result."""
    checked = normalise_phone("070-123 45 67", region="SE")
    parses: list[str] = []
    real_parse = phonenumbers.parse
    monkeypatch.setattr(
        phonenumbers, "parse", lambda *a, **k: parses.append(a[0]) or real_parse(*a, **k)
    )
    assert normalise_phone(checked, region=None) == "+46701234567"
    assert blind_normalise("phone", checked, region="FR") == "+46701234567"
    assert parses == []
    # Text that merely looks like E.164 is checked, and so is SMS capability.
    assert normalise_phone("+46701234567", region=None) == "+46701234567"
    fixed = normalise_phone("01 42 68 53 00", region="FR")
    with pytest.raises(ValidationFailed, match="cannot receive SMS"):
        normalise_phone(fixed, region="FR", require_sms=True)
    assert parses == ["+46701234567", "01 42 68 53 00", "+33142685300"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("amina@example.org", "amina@example.org"),
        # Trimmed, and lower-cased whole (local part too: one person, one address).
        ("  Amina.K@Example.ORG ", "amina.k@example.org"),
        ("ADA@EXAMPLE.ORG", "ada@example.org"),
        ("user+tag@sub.example.co.uk", "user+tag@sub.example.co.uk"),
        # Internationalised domains: Unicode form, whichever form was typed.
        ("jose@bücher.example", "jose@bücher.example"),
        ("jose@BÜCHER.example", "jose@bücher.example"),
        ("jose@xn--bcher-kva.example", "jose@bücher.example"),
        ("Zoé@exemple.fr", "zoé@exemple.fr"),
    ],
)
def test_valid_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected
    assert normalise_email(expected) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plainaddress",
        "nobody@",
        "@example.org",
        "a@b",
        "two@@example.org",
        "Amina <amina@example.org>",
        "a@example.org, b@example.org",
        "a@example.org\r\nBcc: x@example.org",
        "a b@example.org",
        "x" * 250 + "@example.org",
    ],
)
def test_invalid_addresses_give_field_errors(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalise_email(raw, field="email")
    [error] = info.value.errors
    assert error["field"] == "email"
    if raw:
        assert raw.strip() not in error["reason"]


@pytest.mark.parametrize(
    ("kind", "raw", "region"),
    [
        ("phone", "06 12 34 56 78", "FR"),
        ("phone", "+1 613 555 0199", None),
        ("email", " Ada@Example.ORG", None),
        ("email", "jose@xn--bcher-kva.example", None),
    ],
)
def test_the_blind_index_uses_the_same_rule(kind: str, raw: str, region: str | None) -> None:
    rule = normalise_phone(raw, region=region) if kind == "phone" else normalise_email(raw)
    assert blind_normalise(kind, raw, region=region) == rule


@pytest.mark.parametrize(
    ("kind", "raw"), [("phone", "+1 555 555 0100"), ("phone", "12"), ("email", "nobody@")]
)
def test_the_blind_index_refuses_what_the_rule_refuses(kind: str, raw: str) -> None:
    with pytest.raises(InvalidFieldValueError):
        blind_normalise(kind, raw, region="CA")


def test_sender_accepts_display_names() -> None:
    assert parse_sender("Vaxport <no-reply@Example.org>") == ("Vaxport", "no-reply@example.org")
    with pytest.raises(ValueError, match="one line"):
        parse_sender("Vaxport <a@example.org>\nBcc: b@example.org")
