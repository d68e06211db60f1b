"""The ``verify`` scenario's data: a DSC the demo tenant trusts and an HC1 it signed.

A fresh EC P-256 key and self-signed Document Signer Certificate (vaccination EKU) are
made here, the certificate is imported with ``vaxport trust import``, and one EU DCC
(valid for a year from now) is signed with the key: what is measured is the public
verification of that HC1 text, as a border officer's app would send it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from vaxport.certificates import es256

VACCINATION_EKU = "1.3.6.1.4.1.1847.2021.1.2"
HCERT: dict[str, Any] = {
    "ver": "1.3.0",
    "nam": {"fn": "Bench", "fnt": "BENCH", "gn": "Verifier", "gnt": "VERIFIER"},
    "dob": "1980-01-01",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 2,
            "sd": 2,
            "dt": "2026-01-15",
            "co": "SE",
            "is": "Bench Health Agency",
            "ci": "URN:UVCI:01:SE:BENCH/0001#Q",
        }
    ],
}


def signer() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A key and its self-signed DSC (DER), valid from yesterday for two years."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.COMMON_NAME, "vaxport bench DSC"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(VACCINATION_EKU)]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(Encoding.DER)


def hc1(key: ec.EllipticCurvePrivateKey, der: bytes) -> str:
    """An ``HC1:`` string of :data:`HCERT` signed with ``key`` (kid from ``der``)."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    kid = hashlib.sha256(der).digest()[:8]
    protected = cbor2.dumps({1: -7, 4: kid})
    payload = cbor2.dumps({1: "SE", 6: now - 60, 4: now + 365 * 86400, -260: {1: HCERT}})
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    signature = es256.sign(key, to_sign)
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
    return "HC1:" + base45.b45encode(zlib.compress(cose, 9)).decode()


def trusted_body(import_dsc: Any) -> str:
    """Make a signer, import its DSC with ``import_dsc(pem_path)``; the request body."""
    key, der = signer()
    pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-dsc.pem"
        path.write_bytes(pem)
        import_dsc(path)
    return json.dumps({"payload": hc1(key, der)})
