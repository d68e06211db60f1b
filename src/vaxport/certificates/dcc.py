"""EU Digital COVID Certificate (HCERT) vaccination certificates: pure encoding.

The chain, per the eHealth Network's HCERT specification: DCC JSON (schema 1.3.3) ->
CWT claims (1 ``iss`` country, 6 ``iat``, 4 ``exp``, -260 -> {1: DCC}) -> COSE_Sign1
(tag 18, protected header ``{1: -7 (ES256), 4: kid}``, signature raw ``r || s``) -> zlib
-> Base45 -> ``HC1:``. ``kid`` is the first 8 bytes of SHA-256 of the Document Signer
Certificate (DER).

A DCC vaccination certificate holds exactly one vaccination entry (the schema's ``v``
has ``maxItems: 1``). So that no dose is ever dropped, :func:`encode_all` issues one DCC
per dose, each with its own UVCI; the current one for a disease is its latest dose's
(the EU rules: the latest dose's certificate is what a verifier checks).
"""

from __future__ import annotations

import datetime as dt
import secrets
import zlib
from dataclasses import dataclass
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from vaxport.certificates import es256
from vaxport.certificates.content import ContentError, Dose, Holder
from vaxport.certificates.names import icao

SCHEMA_VERSION = "1.3.3"  # fnt optional when gnt is given (1.3.2+): mononyms need it
PREFIX = "HC1:"
COSE_SIGN1_TAG = 18
ALG_ES256 = -7
HDR_ALG, HDR_KID = 1, 4
CWT_ISS, CWT_EXP, CWT_IAT, CWT_HCERT = 1, 4, 6, -260
MAX_TEXT = 80  # fn, gn, is, ci: the schema's maxLength
UVCI_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"
_RANDOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
RANDOM_LENGTH = 26  # 36**26: about 134 bits, unguessable and collision-free


@dataclass(frozen=True, slots=True)
class DccSigner:
    """A Document Signer key: its private key, ``kid`` and certificate's end of validity."""

    kid: bytes
    private_key: ec.EllipticCurvePrivateKey
    not_after: dt.datetime


@dataclass(frozen=True, slots=True)
class DccIssuer:
    """Who issues: the CWT ``iss`` (ISO 3166 alpha-2) and the DCC ``is`` text."""

    country: str
    name: str
    uvci_prefix: str = ""


@dataclass(frozen=True, slots=True)
class IssuedDcc:
    """One signed DCC: the QR text, its UVCI, the dose it certifies, and its validity."""

    text: str
    uvci: str
    dose: Dose
    issued_at: dt.datetime
    expires_at: dt.datetime


# ------------------------------------------------------------------------------- UVCI


def _luhn_mod_n(text: str, factor: int) -> int:
    n = len(UVCI_CHARSET)
    total = 0
    for ch in reversed(text):
        addend = factor * UVCI_CHARSET.index(ch)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return total % n


def uvci_checksum(uvci: str) -> str:
    """The Luhn mod N check character of ``uvci`` (eHN UVCI guidelines, annex 2)."""
    if any(ch not in UVCI_CHARSET for ch in uvci):
        raise ContentError("a UVCI holds only A-Z, 0-9, '/' and ':'")
    n = len(UVCI_CHARSET)
    return UVCI_CHARSET[(n - _luhn_mod_n(uvci, 2)) % n]


def uvci_is_valid(uvci: str) -> bool:
    """Whether ``uvci`` (with ``#`` and its check character) passes its checksum."""
    body, sep, check = uvci.partition("#")
    if not sep or len(check) != 1:
        return False
    try:
        return uvci_checksum(body) == check
    except ContentError:
        return False


def new_uvci(country: str, prefix: str = "", *, opaque: str | None = None) -> str:
    """``URN:UVCI:01:<CC>:<prefix><opaque>#<check>``; ``opaque`` random unless given."""
    if opaque is None:
        opaque = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(RANDOM_LENGTH))
    body = f"URN:UVCI:01:{country}:{prefix}{opaque}"
    uvci = f"{body}#{uvci_checksum(body)}"
    if len(uvci) > MAX_TEXT:
        raise ContentError(f"the UVCI would be longer than {MAX_TEXT} characters")
    return uvci


# ------------------------------------------------------------------------------ payload


def payload(holder: Holder, dose: Dose, *, uvci: str, issuer: DccIssuer) -> dict[str, Any]:
    """The DCC JSON (schema 1.3.3) of one vaccination."""
    if dose.dcc is None:
        raise ContentError(f"{dose.product_name} has no EU DCC codes")
    family = icao(holder.family_name_latin or holder.family_name)
    given = icao(holder.given_name_latin or holder.given_name)
    if not (family or given):
        raise ContentError(
            "the holder's name has no ICAO 9303 transliteration; give its Latin form"
        )
    nam: dict[str, str] = {}
    if holder.family_name:
        nam["fn"] = holder.family_name[:MAX_TEXT]
    if family:
        nam["fnt"] = family
    if holder.given_name:
        nam["gn"] = holder.given_name[:MAX_TEXT]
    if given:
        nam["gnt"] = given
    return {
        "ver": SCHEMA_VERSION,
        "nam": nam,
        "dob": holder.birth,
        "v": [
            {
                "tg": dose.dcc.tg,
                "vp": dose.dcc.vp,
                "mp": dose.dcc.mp,
                "ma": dose.dcc.ma,
                "dn": dose.dose_number,
                "sd": dose.series_doses,
                "dt": dose.date.isoformat(),
                "co": dose.country,
                "is": issuer.name[:MAX_TEXT],
                "ci": uvci,
            }
        ],
    }


# ------------------------------------------------------------------------------ signing


def _epoch(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ContentError("times must be timezone-aware")
    return int(moment.timestamp())


def sign(
    dcc: dict[str, Any],
    *,
    signer: DccSigner,
    country: str,
    issued_at: dt.datetime,
    expires_at: dt.datetime,
) -> str:
    """The ``HC1:`` text of ``dcc`` signed by ``signer`` (CWT, COSE_Sign1, zlib, Base45)."""
    claims = {
        CWT_ISS: country,
        CWT_IAT: _epoch(issued_at),
        CWT_EXP: _epoch(expires_at),
        CWT_HCERT: {1: dcc},
    }
    protected = cbor2.dumps({HDR_ALG: ALG_ES256, HDR_KID: signer.kid})
    body = cbor2.dumps(claims)
    to_sign = cbor2.dumps(["Signature1", protected, b"", body])
    signature = es256.sign(signer.private_key, to_sign)
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, body, signature]))
    encoded: bytes = base45.b45encode(zlib.compress(cose, 9))
    return PREFIX + encoded.decode("ascii")


def encode_all(
    holder: Holder,
    doses: list[Dose],
    *,
    signer: DccSigner,
    issuer: DccIssuer,
    issued_at: dt.datetime,
    validity: dt.timedelta,
) -> list[IssuedDcc]:
    """One signed DCC per dose that has EU DCC codes, in date order.

    A certificate never outlives its Document Signer Certificate: ``exp`` is the earlier
    of ``issued_at + validity`` and the DSC's end of validity.
    """
    if issued_at >= signer.not_after:
        raise ContentError("the Document Signer Certificate has expired; rotate it")
    expires_at = min(issued_at + validity, signer.not_after)
    issued = []
    for dose in sorted((d for d in doses if d.dcc is not None), key=lambda d: d.date):
        uvci = new_uvci(issuer.country, issuer.uvci_prefix)
        text = sign(
            payload(holder, dose, uvci=uvci, issuer=issuer),
            signer=signer,
            country=issuer.country,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        issued.append(IssuedDcc(text, uvci, dose, issued_at, expires_at))
    return issued


def current(issued: list[IssuedDcc]) -> dict[str, IssuedDcc]:
    """The certificate to show for each disease (``tg``): its latest dose's."""
    latest: dict[str, IssuedDcc] = {}
    for cert in issued:
        assert cert.dose.dcc is not None
        held = latest.get(cert.dose.dcc.tg)
        if held is None or (cert.dose.date, cert.dose.dose_number) >= (
            held.dose.date,
            held.dose.dose_number,
        ):
            latest[cert.dose.dcc.tg] = cert
    return latest


def kid_of(certificate_der: bytes) -> bytes:
    """The DCC ``kid`` of a Document Signer Certificate: SHA-256 of its DER, first 8 bytes."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(certificate_der)
    return digest.finalize()[:8]
