"""EU DCC (HCERT) verification: ``HC1:`` -> Base45 -> zlib -> COSE_Sign1 -> CWT -> DCC.

COSE is verified directly with ``cryptography`` (the Sig_structure is
``["Signature1", protected, b"", payload]``): no COSE library's CBOR expectations to
trip over. ES256 signatures are raw ``r || s``; PS256 uses a salt as long as the hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from vaxport.certificates import es256
from vaxport.certificates.verify import dcc_schema
from vaxport.certificates.verify.holder import dcc_holder
from vaxport.certificates.verify.limits import InflateError, inflate
from vaxport.certificates.verify.outcome import Verification
from vaxport.certificates.verify.trust_store import (
    DCC_EKUS,
    EKU_BY_TYPE,
    HASH_COUNTRY_UCI,
    HASH_SIGNATURE,
    HASH_UCI,
    REVOCATION_HASH_BYTES,
    SigningCertificate,
    TrustStore,
)

PREFIX = "HC1:"
ALG_ES256 = -7
ALG_PS256 = -37
TAG_COSE_SIGN1 = 18
TAG_CWT = 61
# COSE header labels and CWT claim keys.
H_ALG, H_KID = 1, 4
C_ISS, C_EXP, C_NBF, C_IAT, C_HCERT = 1, 4, 5, 6, -260


class _Cose:
    __slots__ = ("alg", "claims", "kid", "payload", "protected", "protected_map", "signature")

    def __init__(
        self,
        protected: bytes,
        protected_map: dict[Any, Any],
        unprotected: dict[Any, Any],
        payload: bytes,
        signature: bytes,
    ) -> None:
        self.protected = protected
        self.protected_map = protected_map
        self.payload = payload
        self.signature = signature
        # Protected header first: an attacker can rewrite the unprotected one.
        self.kid = protected_map[H_KID] if H_KID in protected_map else unprotected.get(H_KID)
        self.alg = protected_map[H_ALG] if H_ALG in protected_map else unprotected.get(H_ALG)
        self.claims: dict[Any, Any] = {}


def verify_dcc(text: str, *, trust: TrustStore, at: dt.datetime) -> Verification:
    """Every check of one ``HC1:`` string at time ``at``."""
    out = Verification(format="eu-dcc")
    cose = _decode(text, out)
    if cose is None:
        return out
    out.passed("decode")
    hcert = cose.claims[C_HCERT][1]
    cert = _check_signature(cose, trust, out)
    _check_expiry(cose.claims, cert, at, out)
    _check_schema(hcert, out)
    _check_key_usage(hcert, cert, trust, cose, out)
    if out.checks["signature"]:
        _check_revocation(hcert, cose, trust, out)
        out.holder = dcc_holder(hcert)
    out.certificate_id = _uvci(hcert)
    issuer = cose.claims.get(C_ISS)
    out.issuer = issuer if isinstance(issuer, str) else None
    return out


def _decode(text: str, out: Verification) -> _Cose | None:  # noqa: PLR0911 - a stage each
    if not text.startswith(PREFIX):
        out.fail("decode", "not an EU DCC: the text does not start with HC1:", stage="prefix")
        return None
    try:
        compressed = base45.b45decode(text[len(PREFIX) :])
    except (ValueError, KeyError, IndexError):
        out.fail("decode", "invalid Base45 data", stage="base45")
        return None
    try:
        raw = inflate(compressed, raw=False)
    except InflateError as exc:
        out.fail("decode", f"decompression failed: {exc}", stage="compression")
        return None
    try:
        message = cbor2.loads(raw)
    except Exception:  # noqa: BLE001 - cbor2 raises many types on hostile input
        out.fail("decode", "invalid CBOR data", stage="cbor")
        return None
    cose = _cose(message)
    if cose is None:
        out.fail("decode", "not a COSE_Sign1 message", stage="cose")
        return None
    try:
        claims = cbor2.loads(cose.payload)
    except Exception:  # noqa: BLE001
        out.fail("decode", "the CWT payload is not CBOR", stage="cwt")
        return None
    hcert = claims.get(C_HCERT) if isinstance(claims, dict) else None
    if not isinstance(hcert, dict) or not isinstance(hcert.get(1), dict):
        out.fail("decode", "the CWT holds no health certificate (claim -260)", stage="cwt")
        return None
    cose.claims = claims
    return cose


def _cose(message: Any) -> _Cose | None:
    """The COSE_Sign1 array: tagged 18, tagged 61(18) (CWT) or untagged."""
    if isinstance(message, cbor2.CBORTag) and message.tag == TAG_CWT:
        message = message.value
    if isinstance(message, cbor2.CBORTag) and message.tag == TAG_COSE_SIGN1:
        message = message.value
    if not isinstance(message, list) or len(message) != 4:
        return None
    protected, unprotected, payload, signature = message
    if not (isinstance(protected, bytes) and isinstance(payload, bytes)):
        return None
    if not (isinstance(unprotected, dict) and isinstance(signature, bytes)):
        return None
    try:
        protected_map = cbor2.loads(protected) if protected else {}
    except Exception:  # noqa: BLE001
        return None
    if not isinstance(protected_map, dict):
        return None
    return _Cose(protected, protected_map, unprotected, payload, signature)


def _check_signature(
    cose: _Cose, trust: TrustStore, out: Verification
) -> SigningCertificate | None:
    """The trusted DSC that signed the message, or ``None`` (the failure recorded)."""
    if not isinstance(cose.kid, bytes):
        out.fail("signature", "the certificate names no key (kid)")
        return None
    candidates = trust.dsc.get(cose.kid, [])
    if not candidates:
        out.fail("signature", f"no trusted signing certificate has kid {cose.kid.hex()}")
        return None
    if cose.alg not in (ALG_ES256, ALG_PS256):
        out.fail("signature", f"unsupported signature algorithm {cose.alg!r}")
        return None
    to_sign = cbor2.dumps(["Signature1", cose.protected, b"", cose.payload])
    for cert in candidates:
        if _signature_holds(cose.alg, cert, cose.signature, to_sign):
            out.passed("signature")
            return cert
    out.fail("signature", "the signature does not verify")
    return None


def _signature_holds(alg: int, cert: SigningCertificate, signature: bytes, data: bytes) -> bool:
    key = cert.public_key
    try:
        if alg == ALG_ES256:
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
                return False
            return es256.holds(key, signature, data)  # raw r || s only: DER is refused
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        key.verify(signature, data, pss, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _check_expiry(
    claims: dict[Any, Any], cert: SigningCertificate | None, at: dt.datetime, out: Verification
) -> None:
    iat, exp, nbf = (_time(claims.get(k)) for k in (C_IAT, C_EXP, C_NBF))
    if (C_IAT in claims and iat is None) or (C_NBF in claims and nbf is None):
        out.fail("expiry", "the certificate's issue time is not a time")
    elif iat is not None and at < iat:
        out.fail("expiry", "the certificate is issued after the validation time")
    elif nbf is not None and at < nbf:
        out.fail("expiry", "the certificate is not valid yet")
    elif exp is None:
        out.fail("expiry", "the certificate has no expiry time")
    elif at >= exp:
        out.fail("expiry", "the certificate has expired")
    elif cert is not None and not cert.not_before <= at <= cert.not_after:
        out.fail("expiry", "the signing certificate is not valid at the validation time")
    else:
        out.passed("expiry")


def _check_schema(hcert: dict[Any, Any], out: Verification) -> None:
    problem = dcc_schema.problem(hcert)
    if problem:
        out.fail("schema", problem)
    else:
        out.passed("schema")


def _kind(hcert: dict[Any, Any]) -> str | None:
    kinds = [k for k in ("v", "t", "r") if hcert.get(k)]
    return kinds[0] if len(kinds) == 1 else None


def _check_key_usage(
    hcert: dict[Any, Any],
    cert: SigningCertificate | None,
    trust: TrustStore,
    cose: _Cose,
    out: Verification,
) -> None:
    if cert is None and isinstance(cose.kid, bytes):
        # The signature failed, but the key's usage is still a fact worth reporting.
        cert = next(iter(trust.dsc.get(cose.kid, [])), None)
    if cert is None:
        return
    kind = _kind(hcert)
    ekus = cert.ekus or frozenset()  # unreadable extensions count as "no key usage"
    if not ekus & DCC_EKUS:
        out.passed("key_usage")
    elif kind is None or not ekus & set(EKU_BY_TYPE[kind]):
        out.fail("key_usage", "the signing certificate may not sign this type of certificate")
    else:
        out.passed("key_usage")


def _entry(hcert: dict[Any, Any]) -> dict[Any, Any]:
    kind = _kind(hcert)
    entries = hcert.get(kind) if kind else None
    first = entries[0] if isinstance(entries, list) and entries else None
    return first if isinstance(first, dict) else {}


def _uvci(hcert: dict[Any, Any]) -> str | None:
    ci = _entry(hcert).get("ci")
    return ci if isinstance(ci, str) else None


def revocation_hashes(hcert: dict[Any, Any], signature: bytes, *, ecdsa: bool) -> dict[str, bytes]:
    """The DCC revocation hashes (UCI, COUNTRYCODEUCI, SIGNATURE), truncated to 16 bytes.

    For ECDSA only ``r`` is hashed (``s`` can be negated without breaking the signature).
    """

    def digest(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()[:REVOCATION_HASH_BYTES]

    out = {HASH_SIGNATURE: digest(signature[: len(signature) // 2] if ecdsa else signature)}
    uci = _uvci(hcert)
    country = _entry(hcert).get("co")
    if uci:
        out[HASH_UCI] = digest(uci.encode())
        if isinstance(country, str):
            out[HASH_COUNTRY_UCI] = digest((country + uci).encode())
    return out


def _check_revocation(
    hcert: dict[Any, Any], cose: _Cose, trust: TrustStore, out: Verification
) -> None:
    assert isinstance(cose.kid, bytes)
    hashes_ = revocation_hashes(hcert, cose.signature, ecdsa=cose.alg == ALG_ES256)
    if trust.revocations.dcc_revoked(kid=cose.kid, hashes=hashes_):
        out.fail("revocation", "the certificate has been revoked")
    else:
        out.passed("revocation")
