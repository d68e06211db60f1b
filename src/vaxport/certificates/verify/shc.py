"""SMART Health Card verification: numeric ``shc:/`` QR text, a JWS, or a
``.smart-health-card`` file -> JWS (ES256, ``zip: DEF``) -> raw DEFLATE -> JSON -> FHIR.

Signatures are checked directly with ``cryptography``: a JWS ES256 signature is the raw
64-byte ``r || s``; a DER-encoded one (a common issuer bug) is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from vaxport.certificates import es256
from vaxport.certificates.verify.holder import shc_holder
from vaxport.certificates.verify.limits import InflateError, inflate
from vaxport.certificates.verify.outcome import Verification
from vaxport.certificates.verify.trust_store import ShcKey, TrustStore

PREFIX = "shc:/"
HEALTH_CARD = "https://smarthealth.cards#health-card"
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_CHUNK = re.compile(r"^shc:/(?:(\d+)/(\d+)/)?(\d+)$")
_BOM = "\ufeff"
MAX_CHUNKS = 64


class _BadInputError(ValueError):
    def __init__(self, reason: str, stage: str) -> None:
        super().__init__(reason)
        self.stage = stage


def looks_like_jws(text: str) -> bool:
    """Three base64url parts separated by dots."""
    return bool(_JWS.match(text))


def _b64url(part: str) -> bytes:
    if not _B64URL.match(part) or len(part) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    # Canonical only: spare bits in the last character would let two texts carry one
    # signature, so a changed character could go unnoticed.
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != part:
        raise ValueError("not canonical base64url")
    return data


def numeric_to_jws(text: str) -> str:
    """``shc:/...`` QR text (one chunk or several, one per line) -> the JWS."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chunks: dict[int, str] = {}
    total = None
    for line in lines[: MAX_CHUNKS + 1]:
        match = _CHUNK.match(line)
        if not match:
            raise _BadInputError("not a numeric SMART Health Card QR text", "numeric")
        index, count, digits = match.groups()
        if len(lines) > 1 and index is None:
            raise _BadInputError("several QR texts of which one is not a chunk", "numeric")
        i, n = (int(index), int(count)) if index else (1, 1)
        if total not in (None, n) or not 1 <= i <= n or n > MAX_CHUNKS or i in chunks:
            raise _BadInputError("inconsistent QR chunk numbering", "numeric")
        total = n
        chunks[i] = digits
    if total is None or len(chunks) != total:
        raise _BadInputError(f"{len(chunks)} of {total} QR chunks given", "numeric")
    digits = "".join(chunks[i] for i in range(1, total + 1))
    if len(digits) % 2:
        raise _BadInputError("an odd number of digits", "numeric")
    values = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    if any(v > ord("z") - 45 for v in values):
        raise _BadInputError("a digit pair out of range", "numeric")
    return "".join(chr(v + 45) for v in values)


def jws_from_file(text: str) -> list[str]:
    """The JWSs of a ``.smart-health-card`` file (``{"verifiableCredential": [...]}``)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise _BadInputError("not JSON", "file") from None
    creds = doc.get("verifiableCredential") if isinstance(doc, dict) else None
    if not isinstance(creds, list) or not creds or not all(isinstance(c, str) for c in creds):
        raise _BadInputError("no verifiableCredential list in the file", "file")
    return creds


def verify_shc_text(text: str, *, trust: TrustStore, at: dt.datetime) -> Verification:
    """Verify numeric QR text, a JWS, or a file's JSON; a file's credentials must all hold."""
    try:
        if text.startswith(PREFIX):
            jwss = [numeric_to_jws(text)]
        elif text.startswith("{"):
            jwss = jws_from_file(text)
        else:
            jwss = [text]
    except _BadInputError as exc:
        return Verification(format="shc").fail("decode", str(exc), stage=exc.stage)
    results = [verify_jws(jws, trust=trust, at=at) for jws in jwss]
    return next((r for r in results if not r.valid), results[0])


def _decode(jws: str, out: Verification) -> tuple[dict[str, Any], dict[str, Any], bytes] | None:
    try:
        if not looks_like_jws(jws):
            raise _BadInputError("not a compact JWS", "jws")
        head_b64, body_b64, sig_b64 = jws.split(".")
        try:
            header = json.loads(_b64url(head_b64))
            compressed, signature = _b64url(body_b64), _b64url(sig_b64)
        except (ValueError, binascii.Error):
            raise _BadInputError("the JWS is not base64url JSON", "jws") from None
        if not isinstance(header, dict):
            raise _BadInputError("the JWS header is not an object", "jws")
        if header.get("zip") != "DEF":
            raise _BadInputError("the payload is not compressed (zip must be DEF)", "jws")
        try:
            raw = inflate(compressed, raw=True)
        except InflateError as exc:
            raise _BadInputError(f"decompression failed: {exc}", "compression") from None
        try:
            text = raw.decode("utf-8")
            if text.startswith(_BOM):  # the spec forbids it; stripping it would hide a bug
                raise _BadInputError("the payload starts with a byte order mark", "json")
            payload = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            if isinstance(exc, _BadInputError):
                raise
            raise _BadInputError("the payload is not JSON", "json") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("iss"), str):
            raise _BadInputError("the payload names no issuer (iss)", "json")
    except _BadInputError as exc:
        out.fail("decode", str(exc), stage=exc.stage)
        return None
    return header, payload, signature


def verify_jws(jws: str, *, trust: TrustStore, at: dt.datetime) -> Verification:
    """Every check of one SMART Health Card JWS at time ``at``."""
    out = Verification(format="shc")
    decoded = _decode(jws, out)
    if decoded is None:
        return out
    out.passed("decode")
    header, payload, signature = decoded
    iss: str = payload["iss"]
    out.issuer = iss
    kid = header.get("kid")
    key = trust.shc_key(iss, kid) if isinstance(kid, str) else None
    signed = jws.rsplit(".", 1)[0].encode("ascii")
    if header.get("alg") != "ES256":
        out.fail("signature", "SMART Health Cards are signed with ES256 only")
    elif key is None:
        out.fail("signature", f"no trusted key {kid!r} of issuer {iss}")
    elif len(signature) != 64:
        out.fail("signature", "the signature is not a raw ES256 signature (DER is refused)")
    elif not _holds(key, signature, signed):
        out.fail("signature", "the signature does not verify")
    else:
        out.passed("signature")
    _check_expiry(payload, at, out)
    vc = payload.get("vc")
    _check_schema(vc, out)
    if key is not None:
        _check_key_usage(key, out)
    rid = vc.get("rid") if isinstance(vc, dict) else None
    out.certificate_id = rid if isinstance(rid, str) else None
    if out.checks["signature"]:
        assert key is not None
        nbf = payload.get("nbf")
        if isinstance(rid, str) and trust.revocations.shc_revoked(
            iss=iss, kid=key.kid, rid=rid, nbf=nbf if isinstance(nbf, (int, float)) else None
        ):
            out.fail("revocation", "the card has been revoked")
        else:
            out.passed("revocation")
        subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
        out.holder = shc_holder(subject.get("fhirBundle") if isinstance(subject, dict) else None)
    return out


def _holds(key: ShcKey, signature: bytes, data: bytes) -> bool:
    return es256.holds(key.public_key, signature, data)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _check_expiry(payload: dict[str, Any], at: dt.datetime, out: Verification) -> None:
    nbf, exp = _number(payload.get("nbf")), _number(payload.get("exp"))
    now = at.timestamp()
    if nbf is None:
        out.fail("expiry", "the card has no valid issue time (nbf)")
    elif now < nbf:
        out.fail("expiry", "the card is not valid yet")
    elif "exp" in payload and exp is None:
        out.fail("expiry", "the card's expiry (exp) is not a time")
    elif exp is not None and now >= exp:
        out.fail("expiry", "the card has expired")
    else:
        out.passed("expiry")


def _check_schema(vc: Any, out: Verification) -> None:
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    bundle = subject.get("fhirBundle") if isinstance(subject, dict) else None
    types = vc.get("type") if isinstance(vc, dict) else None
    if not isinstance(types, list) or HEALTH_CARD not in types:
        out.fail("schema", "not a health card (vc.type)")
    elif not isinstance(subject.get("fhirVersion"), str):  # type: ignore[union-attr]
        out.fail("schema", "no FHIR version (vc.credentialSubject.fhirVersion)")
    elif not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        out.fail("schema", "no FHIR Bundle (vc.credentialSubject.fhirBundle)")
    elif not isinstance(bundle.get("entry"), list) or not all(
        isinstance(e, dict) and isinstance(e.get("resource"), dict) for e in bundle["entry"]
    ):
        out.fail("schema", "the FHIR Bundle's entries are not resources")
    else:
        out.passed("schema")


def _check_key_usage(key: ShcKey, out: Verification) -> None:
    jwk = key.jwk
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "ES256") != "ES256":
        out.fail("key_usage", "the issuer key is not an ES256 signing key")
    elif jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        out.fail("key_usage", "the issuer key is not a P-256 key")
    else:
        out.passed("key_usage")
