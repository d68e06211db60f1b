"""Holders, doses and throw-away signing keys for the certificate tests."""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from vaxport.certificates import dcc, es256, pki
from vaxport.certificates.content import DccCodes, Dose, Holder

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
COMIRNATY = DccCodes(tg="840539006", vp="1119349007", mp="EU/1/20/1528", ma="ORG-100030215")
ISSUER = dcc.DccIssuer(country="SE", name="E-hälsomyndigheten", uvci_prefix="VAX/")


def holder(**changes: Any) -> Holder:
    values: dict[str, Any] = {
        "subject_id": "0193a6f0-0000-7000-8000-000000000001",
        "family_name": "Öberg-Åström",
        "given_name": "Märta Li",
        "birth_date": dt.date(1964, 1, 1),
    }
    values.update(changes)
    return Holder(**values)


def dose(number: int, date: dt.date, **changes: Any) -> Dose:
    values: dict[str, Any] = {
        "product_name": "CoviGuard mRNA",
        "dose_number": number,
        "series_doses": 2,
        "date": date,
        "country": "SE",
        "dcc": COMIRNATY,
        "cvx": "208",
        "lot_number": f"LOT{number}",
        "performer": "Centre Nord",
    }
    values.update(changes)
    return Dose(**values)


def make_dsc(days: int = 365) -> pki.CertifiedKey:
    csca = pki.make_csca(country="SE", organisation="Test", common_name="CSCA", days=3650, now=NOW)
    return pki.make_dsc(csca, common_name="DSC", days=days, now=NOW)


def dcc_signer(made: pki.CertifiedKey) -> dcc.DccSigner:
    return dcc.DccSigner(
        kid=dcc.kid_of(made.der),
        private_key=made.private_key,
        not_after=made.certificate.not_valid_after_utc,
    )


def decode_hc1(text: str) -> tuple[dict[Any, Any], dict[Any, Any], bytes, bytes, bytes]:
    """(protected header, claims, protected bytes, payload bytes, signature) of an HC1 text."""
    assert text.startswith("HC1:")
    cose = zlib.decompress(base45.b45decode(text[4:]))
    tagged = cbor2.loads(cose)
    assert isinstance(tagged, cbor2.CBORTag)
    assert tagged.tag == 18
    protected, unprotected, payload, signature = tagged.value
    assert unprotected == {}
    return cbor2.loads(protected), cbor2.loads(payload), protected, payload, signature


def verify_cose(protected: bytes, payload: bytes, signature: bytes, cert: x509.Certificate) -> None:
    """Raise unless ``signature`` (raw r||s) is the certificate key's ES256 over the COSE
    Sig_structure."""
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    if not es256.holds(public, signature, cbor2.dumps(["Signature1", protected, b"", payload])):
        raise InvalidSignature


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jws(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify a compact JWS like an SHC verifier would; return the inflated payload."""
    head_b64, body_b64, sig_b64 = jws.split(".")
    header = json.loads(unb64(head_b64))
    assert header["alg"] == "ES256"
    assert header["zip"] == "DEF"
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public = ECKey.import_key(jwk).get_op_key("verify")
    assert isinstance(public, ec.EllipticCurvePublicKey)
    if not es256.holds(public, unb64(sig_b64), f"{head_b64}.{body_b64}".encode()):  # r||s only
        raise InvalidSignature
    document: dict[str, Any] = json.loads(zlib.decompress(unb64(body_b64), -15))
    return document


def value_set(root: Path, name: str) -> set[str]:
    return set(json.loads((root / "dcc-valuesets" / name).read_text())["valueSetValues"])
