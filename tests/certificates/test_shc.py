"""SMART Health Cards: the spec's example 00 reproduced, JWS, numeric QR text, file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from tests.certificates.helpers import NOW, dose, holder, verify_jws
from vaxport.certificates import shc
from vaxport.certificates.content import ContentError, Dose, Holder

EXAMPLE_ISS = "https://spec.smarthealth.cards/examples/issuer"


def _examples(root: Path) -> Path:
    return root / "shc-examples"


def _example_signer(root: Path) -> shc.ShcSigner:
    """The spec's TEST-ONLY issuer key (example 00 is signed with the first one)."""
    keys = json.loads(
        (_examples(root) / "issuer-private-TEST-ONLY/issuer.jwks.private.json").read_text()
    )
    jwk = keys["keys"][0]
    private = ECKey.import_key(jwk).get_op_key("sign")
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    secret = json.loads(
        (_examples(root) / "issuer-private-TEST-ONLY/issuer.hmac.private.json").read_text()
    )["secret"]
    # The examples' generator keys the HMAC with the secret's text form.
    return shc.ShcSigner(kid=jwk["kid"], private_key=private, rid_secret=secret.encode())


def _example_00_holder_and_doses() -> tuple[Holder, list[Dose]]:
    person = Holder(
        subject_id="userid-00",
        family_name="Anyperson",
        given_name="John B.",
        birth_date=dt.date(1951, 1, 20),
    )
    hospital = "ABC General Hospital"
    doses = [
        Dose(
            "Moderna",
            1,
            2,
            dt.date(2021, 1, 1),
            "US",
            cvx="207",
            lot_number="0000001",
            performer=hospital,
        ),
        Dose(
            "Moderna",
            2,
            2,
            dt.date(2021, 1, 29),
            "US",
            cvx="207",
            lot_number="0000007",
            performer=hospital,
        ),
        Dose(
            "Moderna bivalent",
            3,
            3,
            dt.date(2022, 9, 5),
            "US",
            cvx="229",
            lot_number="0000001",
            performer=hospital,
        ),
    ]
    return person, doses


def test_our_bundle_and_payload_reproduce_example_00_exactly(shared_testdata: Path) -> None:
    expected = (_examples(shared_testdata) / "example-00-c-jws-payload-minified.json").read_bytes()
    doc = json.loads(expected)
    signer = _example_signer(shared_testdata)
    person, doses = _example_00_holder_and_doses()
    ours = shc.payload(
        shc.bundle(person, doses),
        iss=EXAMPLE_ISS,
        nbf=doc["nbf"],
        rid=shc.rid(signer.rid_secret, signer.kid, person.subject_id),
    )
    assert shc.minified(ours) == expected.strip()


def test_minify_bundle_turns_a_full_fhir_bundle_into_the_spec_shape(
    shared_testdata: Path,
) -> None:
    expected = json.loads((_examples(shared_testdata) / "example-00-a-fhirBundle.json").read_text())
    full = json.loads(json.dumps(expected))
    full["id"] = "bundle-1"
    for i, entry in enumerate(full["entry"]):
        entry["fullUrl"] = f"https://example.org/fhir/{entry['resource']['resourceType']}/r{i}"
        entry["resource"]["id"] = f"r{i}"
        entry["resource"]["meta"] = {"lastUpdated": "2021-01-01T00:00:00Z"}
        entry["resource"]["text"] = {"status": "generated", "div": "<div>x</div>"}
        if "patient" in entry["resource"]:
            entry["resource"]["patient"]["reference"] = "Patient/r0"
            coding = entry["resource"]["vaccineCode"]
            coding["text"] = "COVID-19 vaccine"
            coding["coding"][0]["display"] = "SARS-COV-2 (COVID-19) vaccine"
    assert shc.minify_bundle(full) == expected


def test_our_jws_verifies_with_the_example_issuers_jwks(shared_testdata: Path) -> None:
    jwks = json.loads((_examples(shared_testdata) / "issuer/jwks.json").read_text())
    signer = _example_signer(shared_testdata)
    person, doses = _example_00_holder_and_doses()
    jws = shc.encode(
        person,
        doses,
        signer=signer,
        iss=EXAMPLE_ISS,
        issued_at=NOW,
        validity=dt.timedelta(days=365),
    )
    document = verify_jws(jws, jwks)
    assert document["iss"] == EXAMPLE_ISS
    assert document["nbf"] == int(NOW.timestamp())
    assert document["exp"] == int((NOW + dt.timedelta(days=365)).timestamp())
    assert document["vc"]["type"] == [shc.HEALTH_CARD]
    assert document["vc"]["rid"] == "MKyCxh7p6uQ"  # the example's rid for userid-00
    # Our JWS and the example's carry the same bundle.
    example = verify_jws(
        (_examples(shared_testdata) / "example-00-d-jws.txt").read_text().strip(), jwks
    )
    assert document["vc"]["credentialSubject"] == example["vc"]["credentialSubject"]


def test_every_dose_is_on_the_card_in_date_order() -> None:
    doses = [dose(2, dt.date(2026, 3, 1)), dose(1, dt.date(2026, 2, 1))]
    b = shc.bundle(holder(), doses)
    assert [e["fullUrl"] for e in b["entry"]] == ["resource:0", "resource:1", "resource:2"]
    dates = [e["resource"].get("occurrenceDateTime") for e in b["entry"][1:]]
    assert dates == ["2026-02-01", "2026-03-01"]
    assert b["entry"][0]["resource"] == {
        "resourceType": "Patient",
        "name": [{"family": "Öberg-Åström", "given": ["Märta", "Li"]}],
        "birthDate": "1964-01-01",
    }


def test_numeric_encoding_of_example_00_equals_its_qr_text(shared_testdata: Path) -> None:
    jws = (_examples(shared_testdata) / "example-00-d-jws.txt").read_text().strip()
    expected = (_examples(shared_testdata) / "example-00-f-qr-code-numeric-value-0.txt").read_text()
    assert shc.qr_text(jws) == expected.strip()


def test_a_card_too_large_for_one_qr_code_is_refused_with_a_reason(
    shared_testdata: Path,
) -> None:
    jws = (_examples(shared_testdata) / "example-02-d-jws.txt").read_text().strip()
    assert len(jws) > shc.MAX_SINGLE_QR_JWS
    with pytest.raises(shc.TooLargeForQrError, match="one QR code holds 1195"):
        shc.qr_text(jws)
    # It still travels as a file.
    assert json.loads(shc.file_content([jws])) == {"verifiableCredential": [jws]}


def test_file_content_matches_the_spec_example(shared_testdata: Path) -> None:
    jws = (_examples(shared_testdata) / "example-00-d-jws.txt").read_text().strip()
    example = json.loads(
        (_examples(shared_testdata) / "example-00-e-file.smart-health-card").read_text()
    )
    assert json.loads(shc.file_content([jws])) == example


def test_a_dose_without_a_cvx_code_cannot_go_on_a_card() -> None:
    with pytest.raises(ContentError, match="CVX"):
        shc.bundle(holder(), [dose(1, dt.date(2026, 1, 1), cvx=None)])
    with pytest.raises(ContentError):
        shc.bundle(holder(), [])


def test_rid_depends_on_person_and_key_and_reveals_neither() -> None:
    a = shc.rid(b"s" * 32, "kid-1", "person-1")
    assert a == shc.rid(b"s" * 32, "kid-1", "person-1")
    assert a != shc.rid(b"s" * 32, "kid-2", "person-1")
    assert a != shc.rid(b"s" * 32, "kid-1", "person-2")
    assert a != shc.rid(b"t" * 32, "kid-1", "person-1")
    assert len(a) == 11
    assert "person" not in a
