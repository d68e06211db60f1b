"""Phone numbers to E.164 and e-mail syntax, with field errors that never echo input."""

from __future__ import annotations

import pytest

from vaxport.core.destinations import normalize_email, normalize_phone, parse_sender
from vaxport.core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("+1 (650) 253-0000", "FR", "+16502530000"),
        ("0803 123 4567", "ng", "+2348031234567"),
        ("  +44 7911 123456 ", "FR", "+447911123456"),
    ],
)
def test_numbers_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, default_region=region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "FR", "is required"),
        ("hello", "FR", "is not a phone number"),
        ("06 12", "FR", "is not a valid phone number"),
        ("612345678", None, "country code"),
        ("1" * 60, "FR", "is too long"),
    ],
)
def test_bad_numbers_give_field_errors(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalize_phone(raw, default_region=region, field="contact.phone")
    [error] = info.value.errors
    assert error["field"] == "contact.phone"
    assert reason in error["reason"]
    if raw:
        assert raw not in error["reason"]


def test_fixed_lines_are_refused_when_sms_is_required() -> None:
    assert normalize_phone("01 42 68 53 00", default_region="FR") == "+33142685300"
    with pytest.raises(ValidationFailed, match="cannot receive SMS"):
        normalize_phone("01 42 68 53 00", default_region="FR", require_sms=True)
    assert normalize_phone("06 12 34 56 78", default_region="FR", require_sms=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("amina@example.org", "amina@example.org"),
        ("  Amina.K@Example.ORG ", "Amina.K@example.org"),
        ("user+tag@sub.example.co.uk", "user+tag@sub.example.co.uk"),
        ("jose@bücher.example", "jose@bücher.example"),
    ],
)
def test_valid_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plainaddress",
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
        normalize_email(raw, field="email")
    [error] = info.value.errors
    assert error["field"] == "email"
    if raw:
        assert raw.strip() not in error["reason"]


def test_sender_accepts_display_names() -> None:
    assert parse_sender("Vaxport <no-reply@Example.org>") == ("Vaxport", "no-reply@example.org")
    with pytest.raises(ValueError, match="one line"):
        parse_sender("Vaxport <a@example.org>\nBcc: b@example.org")
