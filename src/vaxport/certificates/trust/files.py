"""Trust material from files: X.509 DSCs (PEM, DER, base64 DER), SHC issuer JWKS, and
exported trust bundles (``bundle.py``). Shared by ``vaxport verify --trust`` (offline)
and the imports (API and ``vaxport trust import``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from vaxport.certificates.verify.trust_store import ShcKey, SigningCertificate

MAX_FILE_BYTES = 4 * 1024 * 1024  # a national DSC list is a few hundred KB
MAX_KEYS = 10_000
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)
_HTTPS = re.compile(r"^https://[^\s/?#]+(/[^\s?#]*)?$")


class TrustFileError(ValueError):
    """The file is not trust material; the message says why."""


@dataclass(slots=True)
class Material:
    """What one file holds: DSCs, SHC issuer keys, and (bundles) revocation entries."""

    kind: str  # "dsc" | "jwks" | "bundle"
    dscs: list[SigningCertificate] = field(default_factory=list)
    shc_keys: list[ShcKey] = field(default_factory=list)
    # A JWKS given as a file: the issuer URL it belongs to, if the caller named it.
    iss: str | None = None
    document: dict[str, Any] | None = None


def check_issuer_url(iss: str) -> str:
    """An SHC issuer URL: https, no query, no trailing slash (as ``iss`` carries it)."""
    if not _HTTPS.match(iss) or iss.endswith("/") or len(iss) > 500:
        raise TrustFileError("an issuer URL is https://host[/path], without a trailing slash")
    return iss


def shc_keys(jwks: Any, *, iss: str | None) -> list[ShcKey]:
    """The usable EC P-256 keys of a JWKS (``{"keys": [...]}``), private parts refused."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise TrustFileError("a JWKS is an object with a list of keys")
    out = []
    for i, jwk in enumerate(keys):
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            raise TrustFileError(f"keys[{i}] has no kid")
        if "d" in jwk:
            raise TrustFileError(f"keys[{i}] is a private key: give the public JWKS only")
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue  # not an SHC signing key (the spec allows others in the set)
        try:
            public = ECKey.import_key(jwk).get_op_key("verify")
        except Exception:  # noqa: BLE001 - joserfc raises several types on bad keys
            raise TrustFileError(f"keys[{i}] is not a valid EC key") from None
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public_jwk = {k: v for k, v in jwk.items() if k not in ("x5c",)}
        out.append(ShcKey(kid=jwk["kid"], jwk=public_jwk, public_key=public, iss=iss))
    if not out:
        raise TrustFileError("the JWKS holds no EC P-256 key")
    return out


def _certificates(data: bytes) -> list[bytes]:
    pems = _PEM.findall(data)
    if pems:
        return [base64.b64decode(b"".join(p.split())) for p in pems]
    if data[:1] == b"\x30":
        return [data]
    try:
        return [base64.b64decode(b"".join(data.split()), validate=True)]
    except (binascii.Error, ValueError):
        raise TrustFileError("not a certificate, a JWKS or a trust bundle") from None


def dscs_from(data: bytes, *, country: str | None = None) -> list[SigningCertificate]:
    """Every certificate in PEM (one or more), DER, or base64 DER text."""
    out = []
    for der in _certificates(data):
        try:
            out.append(SigningCertificate.from_der(der, country=country))
        except (ValueError, TypeError):
            raise TrustFileError("not an X.509 certificate (PEM, DER or base64 DER)") from None
    return out


def read_material(data: bytes, *, iss: str | None = None) -> Material:
    """Classify and parse one file's bytes (bundles are returned unverified)."""
    if len(data) > MAX_FILE_BYTES:
        raise TrustFileError(f"larger than {MAX_FILE_BYTES} bytes")
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            raise TrustFileError("not valid JSON") from None
        if isinstance(doc, dict) and doc.get("format", "").startswith("vaxport-trust-list/"):
            return Material(kind="bundle", document=doc)
        return Material(kind="jwks", shc_keys=shc_keys(doc, iss=iss), iss=iss, document=doc)
    return Material(kind="dsc", dscs=dscs_from(data))


def x509_pem(der: bytes) -> str:
    """A DER certificate as PEM text."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()
