"""EU DCC encoding: schema 1.3.3, value sets, CWT and COSE, kid, one DCC per dose."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import jsonschema
import pytest
from cryptography.exceptions import InvalidSignature

from tests.certificates.helpers import (
    COMIRNATY,
    ISSUER,
    NOW,
    dcc_signer,
    decode_hc1,
    dose,
    holder,
    make_dsc,
    value_set,
    verify_cose,
)
from vaxport.certificates import dcc
from vaxport.certificates.content import ContentError, DccCodes

VALIDITY = dt.timedelta(days=365)


def _schema(root: Path, version: str) -> jsonschema.protocols.Validator:
    schema = json.loads((root / "dcc-schema" / version / "DCC.combined-schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _issue(**changes: object) -> list[dcc.IssuedDcc]:
    doses = [dose(2, dt.date(2026, 3, 1)), dose(1, dt.date(2026, 2, 1))]
    return dcc.encode_all(
        changes.pop("holder", holder()),  # type: ignore[arg-type]
        changes.pop("doses", doses),  # type: ignore[arg-type]
        signer=dcc_signer(make_dsc()),
        issuer=ISSUER,
        issued_at=NOW,
        validity=VALIDITY,
    )


def test_an_issued_dcc_validates_against_schema_1_3_3_and_uses_listed_codes(
    shared_testdata: Path,
) -> None:
    validator = _schema(shared_testdata, "1.3.3")
    for issued in _issue():
        hcert = decode_hc1(issued.text)[1][-260][1]
        validator.validate(hcert)
        assert hcert["ver"] == "1.3.3"
        (v,) = hcert["v"]
        assert v["tg"] in value_set(shared_testdata, "disease-agent-targeted.json")
        assert v["vp"] in value_set(shared_testdata, "vaccine-prophylaxis.json")
        assert v["mp"] in value_set(shared_testdata, "vaccine-medicinal-product.json")
        assert v["ma"] in value_set(shared_testdata, "vaccine-mah-manf.json")
        assert v["co"] in value_set(shared_testdata, "country-2-codes.json")
        assert v["ci"] == issued.uvci


def test_the_demo_catalogue_codes_are_in_the_value_sets(shared_testdata: Path) -> None:
    from tests.tenancy.helpers import demo_config

    products = [p for p in demo_config()["vaccines"] if "dcc" in p]
    assert products
    for p in products:
        codes = p["dcc"]
        assert codes["disease_agent"] in value_set(shared_testdata, "disease-agent-targeted.json")
        assert codes["prophylaxis"] in value_set(shared_testdata, "vaccine-prophylaxis.json")
        assert codes["medicinal_product"] in value_set(
            shared_testdata, "vaccine-medicinal-product.json"
        )
        assert codes["marketing_authorisation_holder"] in value_set(
            shared_testdata, "vaccine-mah-manf.json"
        )


def test_names_are_given_in_icao_9303_form() -> None:
    hcert = decode_hc1(_issue()[0].text)[1][-260][1]
    assert hcert["nam"] == {
        "fn": "Öberg-Åström",
        "fnt": "OEBERG<AASTROEM",
        "gn": "Märta Li",
        "gnt": "MAERTA<LI",
    }
    assert hcert["dob"] == "1964-01-01"


def test_a_mononym_and_a_birth_year_only_still_validate(shared_testdata: Path) -> None:
    issued = _issue(
        holder=holder(family_name=None, given_name="Ravi", birth_date=None, birth_year=1980)
    )
    hcert = decode_hc1(issued[0].text)[1][-260][1]
    assert hcert["nam"] == {"gn": "Ravi", "gnt": "RAVI"}
    assert hcert["dob"] == "1980"
    _schema(shared_testdata, "1.3.3").validate(hcert)


def test_a_name_without_an_icao_transliteration_needs_its_latin_form() -> None:
    with pytest.raises(ContentError, match="Latin form"):
        _issue(holder=holder(family_name="संजय", given_name="कुमार"))
    issued = _issue(
        holder=holder(
            family_name="संजय",
            given_name="कुमार",
            family_name_latin="Sanjay",
            given_name_latin="Kumar",
        )
    )
    hcert = decode_hc1(issued[0].text)[1][-260][1]
    assert hcert["nam"] == {"fn": "संजय", "fnt": "SANJAY", "gn": "कुमार", "gnt": "KUMAR"}


def test_cwt_claims_and_protected_header() -> None:
    made = make_dsc()
    (issued,) = dcc.encode_all(
        holder(),
        [dose(1, dt.date(2026, 2, 1))],
        signer=dcc_signer(made),
        issuer=ISSUER,
        issued_at=NOW,
        validity=VALIDITY,
    )
    header, claims, *_ = decode_hc1(issued.text)
    assert header == {1: -7, 4: dcc.kid_of(made.der)}
    assert len(header[4]) == 8
    assert claims[1] == "SE"
    assert claims[6] == int(NOW.timestamp())
    assert claims[4] == int((NOW + VALIDITY).timestamp())
    assert set(claims) == {1, 4, 6, -260}


def test_the_cose_signature_verifies_with_the_dsc_public_key_and_fails_if_changed() -> None:
    made = make_dsc()
    (issued,) = dcc.encode_all(
        holder(),
        [dose(1, dt.date(2026, 2, 1))],
        signer=dcc_signer(made),
        issuer=ISSUER,
        issued_at=NOW,
        validity=VALIDITY,
    )
    _h, _c, protected, payload, signature = decode_hc1(issued.text)
    verify_cose(protected, payload, signature, made.certificate)
    tampered = payload.replace(b"SE", b"DK", 1)
    with pytest.raises(InvalidSignature):
        verify_cose(protected, tampered, signature, made.certificate)
    with pytest.raises(InvalidSignature):
        verify_cose(protected, payload, signature, make_dsc().certificate)


def test_every_dose_gets_its_own_dcc_and_the_latest_is_current() -> None:
    issued = _issue()
    assert [i.dose.dose_number for i in issued] == [1, 2]  # date order
    assert len({i.uvci for i in issued}) == 2
    current = dcc.current(issued)
    assert list(current) == [COMIRNATY.tg]
    assert current[COMIRNATY.tg].dose.dose_number == 2


def test_doses_without_dcc_codes_are_left_to_the_other_formats() -> None:
    mmr = dose(1, dt.date(2026, 1, 1), product_name="MMR", dcc=None)
    issued = _issue(doses=[mmr, dose(1, dt.date(2026, 2, 1))])
    assert [i.dose.product_name for i in issued] == ["CoviGuard mRNA"]
    with pytest.raises(ContentError, match="no EU DCC codes"):
        dcc.payload(holder(), mmr, uvci="URN:UVCI:01:SE:X#1", issuer=ISSUER)


def test_a_certificate_never_outlives_its_dsc_and_an_expired_dsc_signs_nothing() -> None:
    made = make_dsc(days=30)
    signer = dcc_signer(made)
    (issued,) = dcc.encode_all(
        holder(),
        [dose(1, dt.date(2026, 2, 1))],
        signer=signer,
        issuer=ISSUER,
        issued_at=NOW,
        validity=VALIDITY,
    )
    assert issued.expires_at == made.certificate.not_valid_after_utc
    with pytest.raises(ContentError, match="expired"):
        dcc.encode_all(
            holder(),
            [dose(1, dt.date(2026, 2, 1))],
            signer=signer,
            issuer=ISSUER,
            issued_at=NOW + dt.timedelta(days=31),
            validity=VALIDITY,
        )


def test_uvci_format_and_luhn_mod_n_checksum(shared_testdata: Path) -> None:
    # Every checksummed UVCI of the published test data (real member states' DCCs).
    found = set()
    for path in [
        *(shared_testdata / "dcc-common").rglob("*.json"),
        *(shared_testdata / "dcc-schema").rglob("*.json"),
    ]:
        found |= set(re.findall(r'"ci": ?"(URN:UVCI:[^"]*#[^"]*)"', path.read_text()))
    assert len(found) >= 3
    for uvci in found:
        assert dcc.uvci_is_valid(uvci), uvci
        body = uvci.split("#")[0]
        assert not dcc.uvci_is_valid(f"{body[:-1]}{'A' if body[-1] != 'A' else 'B'}#{uvci[-1]}")
    uvci = dcc.new_uvci("SE", "VAX/")
    assert uvci.startswith("URN:UVCI:01:SE:VAX/")
    assert dcc.uvci_is_valid(uvci)
    assert len(uvci) <= 80
    assert uvci != dcc.new_uvci("SE", "VAX/")
    with pytest.raises(ContentError):
        dcc.uvci_checksum("urn:lower")


def test_the_decode_chain_round_trips() -> None:
    issued = _issue()[0]
    _header, claims, *_ = decode_hc1(issued.text)
    hcert = claims[-260][1]
    again = dcc.payload(holder(), issued.dose, uvci=issued.uvci, issuer=ISSUER)
    assert hcert == again
    assert set(issued.text[4:]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def test_a_bad_dose_is_refused_before_anything_is_signed() -> None:
    with pytest.raises(ContentError):
        dose(0, dt.date(2026, 1, 1))
    with pytest.raises(ContentError):
        dose(1, dt.date(2026, 1, 1), country="se")
    with pytest.raises(ContentError):
        holder(family_name=None, given_name=None)
    with pytest.raises(ContentError):
        DccCodes("a", "b", "c", "d") and holder(birth_date=None)
