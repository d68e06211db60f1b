"""The verifier as a function: SHC spec examples, tampering, wrong keys, time, revocation,
hostile inputs, photos, and what it discloses of the holder."""

from __future__ import annotations

import datetime as dt
import io
import json
import zlib

import base45
import cbor2
import pytest
import segno

from tests.certificates.signers import (
    DCC_VACCINATION,
    NOW,
    SHC,
    SHC_AT,
    SHC_ISSUER,
    SHC_KID,
    DccSigner,
    example_payload,
    hc1_of_cose,
    numeric,
    sign_shc,
    trust_of,
)
from vaxport.certificates.verify import TrustStore, verify
from vaxport.certificates.verify.dcc import revocation_hashes
from vaxport.certificates.verify.limits import MAX_INFLATED_BYTES
from vaxport.certificates.verify.trust_store import EKU_TEST, Revocations

EXAMPLES = ["example-00", "example-02"]


@pytest.fixture(scope="module")
def signer() -> DccSigner:
    return DccSigner.create()


# --- SMART Health Cards: the spec's examples at every stage -------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_shc_example_jws_verifies_with_the_example_issuer_jwks(name: str) -> None:
    jws = (SHC / f"{name}-d-jws.txt").read_text().strip()
    result = verify(jws, trust=trust_of(), at=SHC_AT)
    assert result.valid, result.reason
    assert result.format == "shc"
    assert result.certificate_id  # the card's rid


@pytest.mark.parametrize("name", EXAMPLES)
def test_shc_example_file_verifies(name: str) -> None:
    text = (SHC / f"{name}-e-file.smart-health-card").read_text()
    assert verify(text, trust=trust_of(), at=SHC_AT).valid


@pytest.mark.parametrize("name", EXAMPLES)
def test_shc_example_numeric_qr_text_verifies_all_chunks_together(name: str) -> None:
    chunks = sorted(SHC.glob(f"{name}-f-qr-code-numeric-value-*.txt"))
    text = "\n".join(p.read_text().strip() for p in chunks)
    result = verify(text, trust=trust_of(), at=SHC_AT)
    assert result.valid, result.reason


def test_shc_missing_chunk_is_a_decoding_failure() -> None:
    first = (SHC / "example-02-f-qr-code-numeric-value-0.txt").read_text().strip()
    result = verify(first, trust=trust_of(), at=SHC_AT)
    assert result.checks["decode"] is False
    assert result.stage == "numeric"


def test_shc_holder_shows_dose_count_and_latest_dose_only() -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    holder = verify(jws, trust=trust_of(), at=SHC_AT).to_json()["holder"]
    assert set(holder) == {"family_name", "given_name", "birth_date", "vaccination"}
    assert holder["given_name"] == "John B."
    assert holder["family_name"] == "Anyperson"
    assert holder["birth_date"] == "1951-01-20"
    assert holder["vaccination"]["doses"] == 3
    assert holder["vaccination"]["latest_date"] == "2022-09-05"
    assert holder["vaccination"]["product"] == "229"
    assert holder["vaccination"]["fully_vaccinated"] is None


def test_shc_before_its_nbf_fails_expiry() -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    result = verify(jws, trust=trust_of(), at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    assert result.checks["expiry"] is False
    assert not result.valid


def test_shc_past_its_exp_fails_expiry() -> None:
    payload = example_payload() | {"nbf": SHC_AT.timestamp() - 10, "exp": SHC_AT.timestamp() - 1}
    result = verify(sign_shc(payload), trust=trust_of(), at=SHC_AT)
    assert result.checks == result.checks | {"signature": True, "expiry": False}


def test_shc_der_encoded_signature_is_refused() -> None:
    result = verify(sign_shc(example_payload(), der_signature=True), trust=trust_of(), at=SHC_AT)
    assert result.checks["signature"] is False
    assert "DER" in (result.reason or "")


def test_shc_payload_with_a_byte_order_mark_is_refused() -> None:
    raw = b"\xef\xbb\xbf" + json.dumps(example_payload()).encode()
    result = verify(sign_shc({}, raw_json=raw), trust=trust_of(), at=SHC_AT)
    assert result.checks["decode"] is False


def test_shc_from_an_unknown_issuer_fails_signature() -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    result = verify(jws, trust=TrustStore(), at=SHC_AT)
    assert result.checks["signature"] is False
    assert result.to_json()["holder"] is None  # nothing disclosed of an unverified card


def test_shc_signed_by_another_key_under_the_same_kid_fails() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    forged = sign_shc(example_payload(), key=ec.generate_private_key(ec.SECP256R1()))
    assert verify(forged, trust=trust_of(), at=SHC_AT).checks["signature"] is False


def test_shc_revoked_rid_stops_verifying() -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    store = trust_of()
    assert verify(jws, trust=store, at=SHC_AT).valid
    store.revocations = Revocations(shc={(SHC_ISSUER, SHC_KID): {"MKyCxh7p6uQ": None}})
    result = verify(jws, trust=store, at=SHC_AT)
    assert result.checks["revocation"] is False
    assert not result.valid


def test_shc_rid_revoked_only_before_a_time_keeps_later_cards() -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    store = trust_of()
    store.revocations = Revocations(shc={(SHC_ISSUER, SHC_KID): {"MKyCxh7p6uQ": 1_600_000_000}})
    assert verify(jws, trust=store, at=SHC_AT).valid  # issued (nbf 2023) after the cut-off


# --- EU DCC -------------------------------------------------------------------------------


def test_dcc_we_sign_verifies_and_discloses_only_the_minimal_holder(signer: DccSigner) -> None:
    result = verify(signer.hc1(), trust=trust_of(signer), at=NOW)
    assert result.valid, result.reason
    assert result.to_json() == {
        "valid": True,
        "format": "eu-dcc",
        "checks": dict.fromkeys(
            ("decode", "signature", "expiry", "schema", "key_usage", "revocation"), True
        ),
        "reason": None,
        "holder": {
            "family_name": "Muster",
            "given_name": "Erika",
            "birth_date": "1964-08-12",
            "vaccination": {
                "doses": 2,
                "latest_date": "2026-05-01",
                "product": "Comirnaty",
                "fully_vaccinated": True,
            },
        },
    }
    assert "URN:UVCI" not in json.dumps(result.to_json())
    assert result.certificate_id == "URN:UVCI:01:SE:TEST/0001#X"


@pytest.mark.parametrize("tag", [True, False])
def test_dcc_tagged_or_untagged_cose_verifies(signer: DccSigner, tag: bool) -> None:
    assert verify(hc1_of_cose(signer.cose(tag=tag)), trust=trust_of(signer), at=NOW).valid


def test_dcc_cwt_tag_around_cose_tag_verifies(signer: DccSigner) -> None:
    inner = cbor2.loads(signer.cose())
    text = hc1_of_cose(cbor2.dumps(cbor2.CBORTag(61, inner)))
    assert verify(text, trust=trust_of(signer), at=NOW).valid


def test_dcc_one_changed_byte_anywhere_fails(signer: DccSigner) -> None:
    # Every byte of the COSE message, flipped in turn: none still verifies.
    cose = signer.cose()
    store = trust_of(signer)
    for i in range(len(cose)):
        tampered = bytearray(cose)
        tampered[i] ^= 0x01
        result = verify(hc1_of_cose(bytes(tampered)), trust=store, at=NOW)
        assert not result.valid, f"byte {i} changed and still valid"


def test_dcc_one_changed_character_of_the_qr_text_fails(signer: DccSigner) -> None:
    text = signer.hc1()
    store = trust_of(signer)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    for i in range(4, len(text), 7):
        changed = alphabet[(alphabet.index(text[i]) + 1) % len(alphabet)]
        assert not verify(text[:i] + changed + text[i + 1 :], trust=store, at=NOW).valid


def test_shc_one_changed_character_of_the_jws_fails() -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    store = trust_of()
    for i in range(0, len(jws), 11):
        if jws[i] == ".":
            continue
        changed = "A" if jws[i] != "A" else "B"
        assert not verify(jws[:i] + changed + jws[i + 1 :], trust=store, at=SHC_AT).valid


def test_dcc_under_a_key_we_do_not_trust_fails_signature(signer: DccSigner) -> None:
    other = DccSigner.create()
    result = verify(signer.hc1(), trust=trust_of(other), at=NOW)
    assert result.checks["signature"] is False
    assert result.to_json()["holder"] is None


def test_dcc_expired_fails_expiry(signer: DccSigner) -> None:
    text = signer.hc1(exp=NOW - dt.timedelta(seconds=1))
    result = verify(text, trust=trust_of(signer), at=NOW)
    assert result.checks["expiry"] is False
    assert result.checks["signature"] is True
    assert not result.valid


def test_dcc_at_a_time_outside_the_dsc_validity_fails_expiry() -> None:
    short = DccSigner.create(not_after=dt.datetime(2026, 5, 15, tzinfo=dt.UTC))
    result = verify(short.hc1(), trust=trust_of(short), at=NOW)
    assert result.checks["expiry"] is False
    assert "signing certificate" in (result.reason or "")


def test_dcc_signed_by_a_test_only_dsc_fails_key_usage() -> None:
    tests_only = DccSigner.create(ekus=(EKU_TEST[0],))
    result = verify(tests_only.hc1(), trust=trust_of(tests_only), at=NOW)
    assert result.checks["key_usage"] is False


def test_dcc_with_an_unknown_product_code_fails_schema(signer: DccSigner) -> None:
    hcert = json.loads(json.dumps(DCC_VACCINATION))
    hcert["v"][0]["mp"] = "NOT-A-PRODUCT"
    result = verify(signer.hc1(hcert), trust=trust_of(signer), at=NOW)
    assert result.checks["schema"] is False
    assert "mp" in (result.reason or "")


@pytest.mark.parametrize("kind", ["UCI", "COUNTRYCODEUCI", "SIGNATURE"])
def test_dcc_revoked_by_each_hash_type_stops_verifying(signer: DccSigner, kind: str) -> None:
    text = signer.hc1()
    store = trust_of(signer)
    assert verify(text, trust=store, at=NOW).valid
    message = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    signature = message.value[3]
    hashes_ = revocation_hashes(DCC_VACCINATION, signature, ecdsa=True)
    store.revocations = Revocations(dcc={signer.kid.hex(): {hashes_[kind].hex()}})
    result = verify(text, trust=store, at=NOW)
    assert result.checks["revocation"] is False
    assert not result.valid


def test_decompression_bomb_is_refused(signer: DccSigner) -> None:
    bomb = zlib.compress(b"\0" * (MAX_INFLATED_BYTES * 50), 9)
    result = verify("HC1:" + base45.b45encode(bomb).decode(), trust=trust_of(signer), at=NOW)
    assert result.checks["decode"] is False
    assert result.stage == "compression"
    assert "refused" in (result.reason or "")


def test_shc_decompression_bomb_is_refused() -> None:
    raw = b'{"iss":"' + b"a" * (MAX_INFLATED_BYTES * 10) + b'"}'
    result = verify(sign_shc({}, raw_json=raw), trust=trust_of(), at=SHC_AT)
    assert result.checks["decode"] is False
    assert result.stage == "compression"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "HC1:",
        "HC1:%%%%",
        "shc:/1",
        "shc:/99",
        "shc:/2/1/00",
        "a.b.c",
        "{}",
        '{"verifiableCredential": [1]}',
        "\ufeffHC1:ABC",
        "HC1:" + "A" * 70_000,
    ],
)
def test_garbage_is_a_decoding_failure_never_an_exception(text: str) -> None:
    result = verify(text, trust=trust_of(), at=NOW)
    assert result.valid is False
    assert result.checks["decode"] is False
    assert set(result.to_json()) == {"valid", "format", "checks", "reason", "holder"}


def test_image_round_trip_segno_png_to_zxing_to_verify(signer: DccSigner) -> None:
    text = signer.hc1()
    buffer = io.BytesIO()
    segno.make(text, error="q").save(buffer, kind="png", scale=4)
    result = verify(buffer.getvalue(), trust=trust_of(signer), at=NOW)
    assert result.valid, result.reason
    assert result.holder is not None
    assert result.holder["family_name"] == "Muster"


def test_image_round_trip_of_a_numeric_shc_qr() -> None:
    jws = (SHC / "example-00-d-jws.txt").read_text().strip()
    text = numeric(jws)
    qr = segno.make(text, error="l")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=3)
    assert verify(buffer.getvalue(), trust=trust_of(), at=SHC_AT).valid


def test_an_image_of_something_else_is_a_decoding_failure() -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (50, 50), 255).save(buffer, format="PNG")
    result = verify(buffer.getvalue(), trust=trust_of(), at=NOW)
    assert result.checks["decode"] is False
    assert result.stage == "image"


def test_an_image_claiming_a_huge_canvas_is_refused_from_its_header() -> None:
    import struct

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = struct.pack(">II", 100_000, 100_000)  # IHDR width/height (CRC now wrong)
    result = verify(bytes(png), trust=trust_of(), at=NOW)
    assert result.checks["decode"] is False
    assert result.stage == "image"


# --- fuzzing: whatever arrives, an answer (never an exception, never the internal guard) ---

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PREFIXES = st.sampled_from(["HC1:", "shc:/", "", "{", "eyJ"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_PREFIXES, body=st.text(max_size=300))
def test_any_text_gets_an_answer(prefix: str, body: str) -> None:
    result = verify(prefix + body, trust=trust_of(), at=NOW)
    assert result.stage != "internal", result.reason
    assert result.valid is False


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_any_cose_bytes_get_an_answer(data: bytes) -> None:
    result = verify(hc1_of_cose(data), trust=trust_of(), at=NOW)
    assert result.stage != "internal", result.reason
    assert result.valid is False


@settings(max_examples=150, deadline=None)
@given(
    claims=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=8)
        | st.binary(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.integers(-300, 10) | st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_any_signed_cwt_content_gets_an_answer(claims: object) -> None:
    signer = DccSigner.create()
    cose = signer.cose(
        claims,
        iat=dt.datetime.fromtimestamp(1_700_000_000, dt.UTC),
        exp=dt.datetime.fromtimestamp(2_000_000_000, dt.UTC),
    )
    result = verify(hc1_of_cose(cose), trust=trust_of(signer), at=NOW)
    assert result.stage != "internal", result.reason
