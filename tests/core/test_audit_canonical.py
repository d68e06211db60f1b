"""The audit hash's canonical JSON: orjson where it provably gives RFC 8785's bytes, the
``rfc8785`` reference everywhere else; the same bytes (or the same refusal) either way,
so hashes of chains written before still verify."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import uuid
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vaxport.core.audit import hashing

MAX_INT = 2**53 - 1


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def _reference(document: Any) -> bytes | type[BaseException]:
    try:
        return rfc8785.dumps(document)
    except Exception as exc:  # the refusal's kind is compared
        return type(exc)


def _ours(document: Any) -> bytes | type[BaseException]:
    try:
        return hashing.canonical(document)
    except Exception as exc:  # the refusal's kind is compared
        return type(exc)


# Every code point, lone surrogates included (the reference refuses them).
any_text = st.text(st.characters(codec=None, categories=None), max_size=12)
# What the hot path meets: ASCII, controls, U+2028/2029, non-ASCII, astral.
tricky_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x7F),
        st.sampled_from(["\u2028", "\u2029", "\ufeff", "\ufffd", "é", "\U0001f489", "\ue000"]),
    ),
    max_size=12,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-MAX_INT, max_value=MAX_INT),
    st.integers(),  # beyond the exact range: refused by both
    st.floats(allow_nan=True, allow_infinity=True),
    tricky_text,
    any_text,
    st.sampled_from([Colour.RED, Level.HIGH]),
)
keys = st.one_of(tricky_text, any_text, st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=5),
        st.dictionaries(st.integers(), inner, min_size=1, max_size=2),  # refused by both
    ),
    max_leaves=20,
)


@settings(max_examples=1000, deadline=None)
@given(documents)
@example({"\U0001f600": 1, "\ufffd": 2, "a": 3})  # UTF-16 order differs from code points
@example({"a": '\u2028\u2029\x00\x1f\x7f"\\\b\f\n\r\t'})
@example([2**53 - 1, -(2**53) + 1, 2**53, 1.0, -0.0, 1e21, 5e-7])
@example({"a": "\udc00"})
def test_canonical_json_is_the_reference_byte_for_byte(document: Any) -> None:
    assert _ours(document) == _reference(document)


# The shapes audit details may take (hashing.check_details' rules, bar the personal-data
# scan): lower-case ASCII keys, exact integers, short strings without NUL, nesting <= 3.
detail_text = st.text(st.characters(codec=None, categories=None, exclude_characters="\x00"))
detail_keys = st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True)
detail_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-MAX_INT, max_value=MAX_INT),
        detail_text.filter(lambda s: len(s) <= 200),
        tricky_text,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(detail_keys, inner, max_size=4)
    ),
    max_leaves=12,
)
details = st.dictionaries(detail_keys, detail_values, max_size=6)
optional_text = st.one_of(st.none(), tricky_text, any_text)
moments = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-9, minutes=-30))]),
)


def _old_entry_hash(content: dict[str, Any]) -> str:
    """The hash as written before: the content document through the reference."""
    document = {
        **hashing.content_document(**content),
        "occurred_at": content["occurred_at"].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


@settings(max_examples=500, deadline=None)
@given(
    details=details,
    occurred_at=moments,
    actor_role=tricky_text,
    object_id=optional_text,
    request_id=optional_text,
    actor=st.one_of(st.none(), st.uuids()),
)
def test_an_entry_hashes_as_it_always_did(
    details: dict[str, Any],
    occurred_at: dt.datetime,
    actor_role: str,
    object_id: str | None,
    request_id: str | None,
    actor: uuid.UUID | None,
) -> None:
    content = {
        "format": hashing.FORMAT,
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "occurred_at": occurred_at,
        "actor_id": actor,
        "actor_role": actor_role,
        "action": "beneficiary.register",
        "object_type": "beneficiary",
        "object_id": object_id,
        "outcome": "success",
        "request_id": request_id,
        "client_ip_hash": None,
        "details": details,
    }
    try:
        old: str | type[BaseException] = _old_entry_hash(content)
    except rfc8785.CanonicalizationError as exc:
        old = type(exc)
    for details_json in (None, hashing.canonical(details)):
        try:
            new: str | type[BaseException] = hashing.entry_hash(
                **content, details_json=details_json
            )
        except rfc8785.CanonicalizationError as exc:
            new = type(exc)
        assert new == old
    assert hashing.canonical(details) == rfc8785.dumps(details)


def test_a_known_entry_and_link_keep_their_hashes() -> None:
    """Hashes computed by the previous encoder (main at 88e10e5): chains written then verify."""
    content = {
        "format": 1,
        "id": uuid.UUID("01939c4e-7f00-7000-8000-000000000001"),
        "tenant_id": uuid.UUID("01939c4e-7f00-7000-8000-0000000000aa"),
        "occurred_at": dt.datetime(2026, 12, 7, 22, 44, 27, 123456, tzinfo=dt.UTC),
        "actor_id": uuid.UUID("01939c4e-7f00-7000-8000-0000000000bb"),
        "actor_role": "national_admin",
        "action": "beneficiary.register",
        "object_type": "beneficiary",
        "object_id": "01939c4e-7f00-7000-8000-0000000000cc",
        "outcome": "success",
        "request_id": 'req\u2028\u2029\x1f\x7f"\\é',
        "client_ip_hash": None,
        "details": {
            "via": "staff",
            "lookalikes": 0,
            "documents": [1, -9007199254740991, True, None],
            "note": "Zoë ✓ \U0001f489 \t\n",
        },
    }
    known = "46c15281378e2c3eac27eb9241267fa9d5814ca8f4723ce54945d1f1f2bbe1c8"
    assert hashing.entry_hash(**content) == known
    details_json = hashing.check_details(content["details"])
    assert hashing.entry_hash(**content, details_json=details_json) == known
    assert hashing.chain_hash(
        tenant_id=content["tenant_id"],
        position=7,
        entry_id=content["id"],
        entry_hash="ab" * 32,
        prev_hash=hashing.GENESIS,
    ) == ("20ed81966e3423d5135e2a0fe9cece04c698268a2dd0a9180e57488b684eae17")


def test_details_are_measured_in_their_canonical_form() -> None:
    assert hashing.check_details({"n": 1, "via": "staff"}) == b'{"n":1,"via":"staff"}'
    with pytest.raises(ValueError, match="exceed"):
        hashing.check_details({f"k{i}": "x" * 150 for i in range(14)})
