"""Test-only signers: EU DCCs under a generated EC key and self-signed DSC, SMART Health
Cards under the spec's TEST-ONLY issuer key (``shc-examples/issuer-private-TEST-ONLY``),
and the trust store of such signers (:func:`trust_of`).
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import base45
import cbor2
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey

from tests.conftest import SHARED_TESTDATA
from vaxport.certificates import es256
from vaxport.certificates.shc import b64url
from vaxport.certificates.trust.files import shc_keys
from vaxport.certificates.verify.trust_store import (
    EKU_VACCINATION,
    SigningCertificate,
    TrustStore,
    dcc_kid,
)
from vaxport.core.clock import utcnow

SHC = SHARED_TESTDATA / "shc-examples"
SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
SHC_KID = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
# Inside every example card's validity (nbf 2023-06-22, no exp).
SHC_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)

DCC_VACCINATION: dict[str, Any] = {
    "ver": "1.3.0",
    "nam": {"fn": "Muster", "fnt": "MUSTER", "gn": "Erika", "gnt": "ERIKA"},
    "dob": "1964-08-12",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 2,
            "sd": 2,
            "dt": "2026-05-01",
            "co": "SE",
            "is": "Test Health Agency",
            "ci": "URN:UVCI:01:SE:TEST/0001#X",
        }
    ],
}


@dataclass
class DccSigner:
    """An EC P-256 key and its self-signed DSC (vaccination EKU unless told otherwise)."""

    key: ec.EllipticCurvePrivateKey
    der: bytes

    @classmethod
    def create(
        cls,
        *,
        ekus: tuple[str, ...] = (EKU_VACCINATION[0],),
        not_before: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        not_after: dt.datetime = dt.datetime(2028, 1, 1, tzinfo=dt.UTC),
        country: str = "SE",
    ) -> DccSigner:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                x509.NameAttribute(NameOID.COMMON_NAME, "Test DSC"),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        if ekus:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in ekus]), critical=False
            )
        cert = builder.sign(key, hashes.SHA256())
        return cls(key=key, der=cert.public_bytes(Encoding.DER))

    @classmethod
    def valid_now(cls) -> DccSigner:
        """A DSC valid from 400 days ago to 400 days ahead (for what verifies "now")."""
        now = utcnow()
        return cls.create(
            not_before=now - dt.timedelta(days=400), not_after=now + dt.timedelta(days=400)
        )

    def hc1_now(self) -> str:
        """An ``HC1:`` certificate issued a day ago, valid 300 days more."""
        now = utcnow()
        return self.hc1(iat=now - dt.timedelta(days=1), exp=now + dt.timedelta(days=300))

    @property
    def kid(self) -> bytes:
        return dcc_kid(self.der)

    def pem(self) -> bytes:
        return x509.load_der_x509_certificate(self.der).public_bytes(Encoding.PEM)

    def cose(
        self,
        hcert: Any = DCC_VACCINATION,  # any CBOR content: the fuzzing test sends junk
        *,
        iat: dt.datetime = dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        exp: dt.datetime = dt.datetime(2027, 5, 1, tzinfo=dt.UTC),
        tag: bool = True,
    ) -> bytes:
        claims = {
            1: "SE",
            6: int(iat.timestamp()),
            4: int(exp.timestamp()),
            -260: {1: hcert},
        }
        protected = cbor2.dumps({1: -7, 4: self.kid})
        payload = cbor2.dumps(claims)
        to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
        signature = es256.sign(self.key, to_sign)
        message = [protected, {}, payload, signature]
        return cbor2.dumps(cbor2.CBORTag(18, message) if tag else message)

    def hc1(self, hcert: Any = DCC_VACCINATION, **kwargs: Any) -> str:
        return "HC1:" + base45.b45encode(zlib.compress(self.cose(hcert, **kwargs), 9)).decode()


def hc1_of_cose(cose: bytes) -> str:
    return "HC1:" + base45.b45encode(zlib.compress(cose, 9)).decode()


def shc_private_key() -> ec.EllipticCurvePrivateKey:
    keys = json.loads((SHC / "issuer-private-TEST-ONLY" / "issuer.jwks.private.json").read_text())
    jwk = next(k for k in keys["keys"] if k["kid"] == SHC_KID)
    key = ECKey.import_key(jwk).get_op_key("sign")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def sign_shc(
    payload: dict[str, Any],
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
    kid: str = SHC_KID,
    der_signature: bool = False,
    raw_json: bytes | None = None,
) -> str:
    """A compact JWS (ES256, zip DEF) of ``payload``."""
    header = b64url(json.dumps({"zip": "DEF", "alg": "ES256", "kid": kid}).encode())
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    body_json = (
        raw_json if raw_json is not None else json.dumps(payload, separators=(",", ":")).encode()
    )
    body = b64url(deflater.compress(body_json) + deflater.flush())
    signed = f"{header}.{body}".encode()
    key = key or shc_private_key()
    signature = (
        key.sign(signed, ec.ECDSA(hashes.SHA256())) if der_signature else es256.sign(key, signed)
    )
    return f"{header}.{body}.{b64url(signature)}"


def example_payload() -> dict[str, Any]:
    return json.loads((SHC / "example-00-b-jws-payload-expanded.json").read_text())


def numeric(jws: str) -> str:
    return "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in jws)


def shc_jwks_path() -> Path:
    return SHC / "issuer" / "jwks.json"


def trust_of(*signers: DccSigner, shc: bool = True) -> TrustStore:
    """A store trusting ``signers``' DSCs and (``shc``) the example issuer's keys."""
    store = TrustStore()
    for signer in signers:
        store.add_dsc(SigningCertificate.from_der(signer.der))
    if shc:
        for key in shc_keys(json.loads(shc_jwks_path().read_text()), iss=SHC_ISSUER):
            store.add_shc(key)
    return store


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of ``response``, which must have ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body
