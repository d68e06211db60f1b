"""The ciphertext format and blind-index normalisation (no database)."""

from __future__ import annotations

import datetime as dt
import hmac
import os
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxport.core.crypto import DecryptionError, InvalidFieldValueError
from vaxport.core.crypto.blind import compute, index_version, normalise
from vaxport.core.crypto.envelope import (
    CLASS_TENANT,
    HEADER_LEN,
    Header,
    context_aad,
    decode_value,
    encode_value,
    looks_like_ciphertext,
    open_sealed,
    parse_header,
    seal,
)

KEY = os.urandom(32)
T = uuid.UUID(int=7)


def _aad(
    row: object = 1, field: str = "phone", table: str = "people", tenant: uuid.UUID = T
) -> bytes:
    return context_aad(tenant_id=tenant, table=table, field=field, row_id=row)


@given(st.text(max_size=300))
def test_seal_open_round_trip_any_text(value: str) -> None:
    blob = seal(KEY, Header(CLASS_TENANT, 3), value.encode(), _aad())
    assert parse_header(blob) == Header(CLASS_TENANT, 3)
    assert open_sealed(KEY, blob, _aad()).decode() == value
    assert len(blob) % 16 == (HEADER_LEN + 12) % 16  # padded: length leaks in 16-byte steps


def test_same_value_twice_gives_different_ciphertexts() -> None:
    a = seal(KEY, Header(CLASS_TENANT, 1), b"x", _aad())
    b = seal(KEY, Header(CLASS_TENANT, 1), b"x", _aad())
    assert a != b  # random nonce


@pytest.mark.parametrize(
    "other",
    [
        _aad(row=2),
        _aad(field="email"),
        _aad(table="notes"),
        _aad(tenant=uuid.UUID(int=8)),
    ],
)
def test_ciphertext_is_bound_to_its_place(other: bytes) -> None:
    blob = seal(KEY, Header(CLASS_TENANT, 1), b"secret", _aad())
    with pytest.raises(DecryptionError):
        open_sealed(KEY, blob, other)


def test_tampered_header_or_body_fails() -> None:
    blob = bytearray(seal(KEY, Header(CLASS_TENANT, 1), b"secret", _aad()))
    for i in (6, HEADER_LEN + 3, len(blob) - 1):  # key version, nonce, tag
        bad = bytearray(blob)
        bad[i] ^= 1
        with pytest.raises(DecryptionError):
            open_sealed(KEY, bytes(bad), _aad())
    with pytest.raises(DecryptionError):
        open_sealed(os.urandom(32), bytes(blob), _aad())


def test_no_text_looks_like_a_ciphertext() -> None:
    assert not looks_like_ciphertext(b"+33612345678" * 4)
    assert not looks_like_ciphertext("é" * 40)
    assert not looks_like_ciphertext(b"\xfa\x01\x01")


def test_values_are_typed_by_kind() -> None:
    assert decode_value("date", encode_value("date", dt.date(2001, 2, 3))) == dt.date(2001, 2, 3)
    assert decode_value("json", encode_value("json", {"b": 1, "a": [2]})) == {"a": [2], "b": 1}
    for kind, value in [("date", dt.datetime(2001, 2, 3)), ("phone", 336), ("json", {1j})]:
        with pytest.raises(Exception, match="needs"):
            encode_value(kind, value)


@pytest.mark.parametrize(
    ("kind", "raw", "region", "expected"),
    [
        ("phone", "+33 6 12 34 56 78", None, "+33612345678"),
        ("phone", "06.12.34.56.78", "FR", "+33612345678"),
        ("phone", "(0803) 123 4567", "NG", "+2348031234567"),
        ("email", "  Jane.Doe@Example.ORG ", None, "jane.doe@example.org"),
        ("id_number", "ab-12.345 6/7", None, "AB1234567"),
        ("id_number", "\uff21\uff22\uff11\uff12", None, "AB12"),  # full-width
        ("text", "  Ngozi   ADEBAYO ", None, "ngozi adebayo"),
        ("date", dt.date(1990, 1, 2), None, "1990-01-02"),
    ],
)
def test_normalisation(kind: str, raw: object, region: str | None, expected: str) -> None:
    assert normalise(kind, raw, region=region) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("phone", "0612345678"), ("phone", "call me"), ("email", "nobody"), ("id_number", " - ")],
)
def test_unusable_values_are_refused(kind: str, raw: str) -> None:
    with pytest.raises(InvalidFieldValueError):
        normalise(kind, raw)


def test_blind_index_is_keyed_versioned_and_separated_by_kind() -> None:
    a = compute(KEY, 3, "id_number", "AB1")
    assert len(a) == 34
    assert index_version(a) == 3
    assert compute(KEY, 3, "id_number", "AB1") == a
    assert compute(os.urandom(32), 3, "id_number", "AB1") != a
    assert compute(KEY, 3, "text", "AB1") != a


@given(
    key=st.binary(min_size=16, max_size=100),
    kind=st.sampled_from(["id_number", "text", "phone"]),
    value=st.text(max_size=60),
)
def test_blind_index_is_the_hmac_of_domain_kind_and_value(
    key: bytes, kind: str, value: str
) -> None:
    # Stored indexes must not change however the MAC is computed (prepared key states).
    mac = hmac.new(key, b"vaxport.bidx.v1\x00" + kind.encode() + b"\x00" + value.encode(), "sha256")
    assert compute(key, 2, kind, value) == b"\x00\x02" + mac.digest()
    assert compute(key, 2, kind, value) == b"\x00\x02" + mac.digest()  # prepared, reused
