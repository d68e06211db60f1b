"""SMART Health Cards: pure encoding (FHIR bundle, JWS, numeric QR text, file).

Per the SMART Health Cards framework: a minified FHIR R4 bundle (Patient + one
Immunization per dose, ``resource:N`` references, no ids, ``text``, ``meta`` or coding
``display``) in a JWT-like payload ``{iss, nbf, exp, vc: {type, credentialSubject, rid}}``,
compressed with raw DEFLATE and signed as a compact JWS (ES256, header
``{alg, zip: DEF, kid}``; ``kid`` is the key's RFC 7638 thumbprint). Unlike the DCC, one
card carries every dose.

The QR form is ``shc:/`` followed by two digits per JWS character (its code minus 45).
One QR (version 22 at error correction L) holds a JWS of up to 1,195 characters; the
spec has deprecated splitting larger cards over several QR codes, so :func:`qr_text`
refuses them (:class:`TooLargeForQr`) and such a card travels as the
``.smart-health-card`` file (and the PDF lists the doses).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from vaxport.certificates import es256
from vaxport.certificates.content import ContentError, Dose, Holder

HEALTH_CARD = "https://smarthealth.cards#health-card"
FHIR_VERSION = "4.0.1"
CVX = "http://hl7.org/fhir/sid/cvx"
PREFIX = "shc:/"
MAX_SINGLE_QR_JWS = 1195  # version 22, error correction L
RID_BYTES = 8  # the spec's recommendation: the first 64 bits of the HMAC


class TooLargeForQrError(ContentError):
    """The card is too large for one QR code: hand out the file (or the PDF) instead."""


@dataclass(frozen=True, slots=True)
class ShcSigner:
    """An SHC issuer key: private key, ``kid`` (JWK thumbprint) and revocation secret."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey
    rid_secret: bytes


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def minified(document: Any) -> bytes:
    """Compact JSON, UTF-8 (the spec's "minified" form)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# ------------------------------------------------------------------------------- bundle


def _patient(holder: Holder) -> dict[str, Any]:
    name: dict[str, Any] = {}
    if holder.family_name:
        name["family"] = holder.family_name
    if holder.given_name:
        name["given"] = holder.given_name.split()
    return {"resourceType": "Patient", "name": [name], "birthDate": holder.birth}


def _immunization(dose: Dose) -> dict[str, Any]:
    if not dose.cvx:
        raise ContentError(f"{dose.product_name} has no CVX code for a SMART Health Card")
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": CVX, "code": dose.cvx}]},
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": dose.date.isoformat(),
    }
    if dose.performer:
        resource["performer"] = [{"actor": {"display": dose.performer}}]
    if dose.lot_number:
        resource["lotNumber"] = dose.lot_number
    return resource


def bundle(holder: Holder, doses: list[Dose]) -> dict[str, Any]:
    """The minified FHIR bundle: the Patient, then every dose in date order."""
    if not doses:
        raise ContentError("a SMART Health Card needs at least one dose")
    resources = [_patient(holder)] + [
        _immunization(d) for d in sorted(doses, key=lambda d: (d.date, d.dose_number))
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"resource:{i}", "resource": r} for i, r in enumerate(resources)],
    }


_DROP_TOP = ("id", "meta", "text")


def minify_bundle(document: dict[str, Any]) -> dict[str, Any]:
    """Any FHIR bundle in the SHC form: ``resource:N`` URLs and references, no resource
    ``id``/``meta``/``text``, no ``text`` beside ``coding``, no ``display`` on codings."""
    entries = document.get("entry", [])
    urls = {}
    for i, entry in enumerate(entries):
        resource = entry.get("resource", {})
        for key in (entry.get("fullUrl"), f"{resource.get('resourceType')}/{resource.get('id')}"):
            if key:
                urls[key] = f"resource:{i}"

    def clean(node: Any, top: bool = False) -> Any:
        if isinstance(node, list):
            return [clean(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for k, v in node.items():
            if top and k in _DROP_TOP:
                continue
            if k == "text" and "coding" in node:
                continue
            if k == "display" and "system" in node and "code" in node:
                continue
            out[k] = urls.get(v, v) if k == "reference" and isinstance(v, str) else clean(v)
        return out

    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"resource:{i}", "resource": clean(e.get("resource", {}), top=True)}
            for i, e in enumerate(entries)
        ],
    }


# --------------------------------------------------------------------------- revocation


def rid(secret: bytes, kid: str, subject_id: str) -> str:
    """The card's revocation id: ``base64url(HMAC-SHA-256(secret || kid, subject)[:8])``.

    Stable per person and key, so revoking it revokes every card that key signed for
    that person, and reveals nothing about them.
    """
    digest = hmac.new(secret + kid.encode(), subject_id.encode(), hashlib.sha256).digest()
    return b64url(digest[:RID_BYTES])


# ------------------------------------------------------------------------------ payload


def _seconds(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ContentError("times must be timezone-aware")
    return int(moment.timestamp())


def payload(
    fhir_bundle: dict[str, Any],
    *,
    iss: str,
    nbf: float,
    exp: float | None = None,
    rid: str | None = None,
    types: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The JWS payload (key order as in the spec's examples)."""
    vc: dict[str, Any] = {
        "type": [HEALTH_CARD, *types],
        "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": fhir_bundle},
    }
    if rid is not None:
        vc["rid"] = rid
    doc: dict[str, Any] = {"iss": iss, "nbf": nbf}
    if exp is not None:
        doc["exp"] = exp
    doc["vc"] = vc
    return doc


def sign_payload(document: dict[str, Any], *, signer: ShcSigner) -> str:
    """The compact JWS of ``document``: raw DEFLATE, ES256 (raw ``r || s``)."""
    header = minified({"alg": "ES256", "zip": "DEF", "kid": signer.kid})
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(minified(document)) + deflate.flush()
    signing_input = f"{b64url(header)}.{b64url(body)}".encode("ascii")
    signature = es256.sign(signer.private_key, signing_input)
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"


def encode(
    holder: Holder,
    doses: list[Dose],
    *,
    signer: ShcSigner,
    iss: str,
    issued_at: dt.datetime,
    validity: dt.timedelta | None,
) -> str:
    """The signed card (compact JWS) listing every dose of ``holder``."""
    document = payload(
        bundle(holder, doses),
        iss=iss,
        nbf=_seconds(issued_at),
        exp=_seconds(issued_at + validity) if validity is not None else None,
        rid=rid(signer.rid_secret, signer.kid, holder.subject_id),
    )
    return sign_payload(document, signer=signer)


# ------------------------------------------------------------------------ QR and file


def numeric(jws: str) -> str:
    """The digits of a JWS: each character's code minus 45, two digits each."""
    return "".join(f"{ord(c) - 45:02d}" for c in jws)


def qr_text(jws: str) -> str:
    """``shc:/`` and the digits, for one QR code; refuses a card too large for one."""
    if len(jws) > MAX_SINGLE_QR_JWS:
        raise TooLargeForQrError(
            f"the card's JWS has {len(jws)} characters; one QR code holds {MAX_SINGLE_QR_JWS}"
        )
    return PREFIX + numeric(jws)


def file_content(cards: list[str]) -> bytes:
    """The ``.smart-health-card`` file (``application/smart-health-card``)."""
    return minified({"verifiableCredential": cards})
