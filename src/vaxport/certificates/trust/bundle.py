"""The signed trust bundle: every trusted key and the revocation data, in one JSON file.

Shape (``format: vaxport-trust-list/1``)::

    {"format", "generated_at",
     "dsc": [{"kid": b64, "country": "DE" | null, "certificate": b64 DER}],
     "shc": [{"iss": url, "jwks": {"keys": [...]}}],
     "revocations": {"eu-dcc": [{"kid": b64, "hashes": [b64 16-byte hash, ...]}],
                     "shc": [{"iss": url, "kid": kid, "rids": ["rid" | "rid.timestamp"]}]},
     "endorsements": [{"format": "vaxport-trust-key-endorsement/1", "key": new JWK,
                       "by": previous JWK, "endorsed_at", "signature"}, ...],
     "key": public JWK of the installation's trust-list key (with its thumbprint as kid),
     "signature": base64url ES256 (raw r||s) over the RFC 8785 canonical JSON of
                  everything else}

A verifier accepts a bundle only when the embedded key is the one it pinned (its JWK
thumbprint, given out of band: ``vaxport verify --trust-key``), or one the pinned key
endorsed when the installation rotated it (``endorsements``: each signed by the key it
hands over from, oldest first), so a bundle cannot vouch for itself and a device pinning
an older key follows the rotations to the newest.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from vaxport.certificates import es256
from vaxport.certificates.signers import public_jwk
from vaxport.certificates.trust.files import TrustFileError, shc_keys
from vaxport.certificates.verify.trust_store import Revocations, SigningCertificate, TrustStore

FORMAT = "vaxport-trust-list/1"
ENDORSEMENT = "vaxport-trust-key-endorsement/1"
MAX_ENDORSEMENTS = 100  # one per rotation of the trust-list key: decades of them


def b64(data: bytes) -> str:
    """Standard base64 (as DCC trust and revocation lists write binary values)."""
    return base64.b64encode(data).decode()


def unb64(text: Any) -> bytes:
    """Inverse of :func:`b64`; ``TrustFileError`` on anything else."""
    if not isinstance(text, str):
        raise TrustFileError("expected base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TrustFileError("invalid base64") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of a public EC JWK (how a bundle key is pinned)."""
    return str(ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y")}).thumbprint())


def _signed_bytes(doc: dict[str, Any]) -> bytes:
    return rfc8785.dumps({k: v for k, v in doc.items() if k != "signature"})


def sign(doc: dict[str, Any], private: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """``doc`` with the public ``key`` and its ``signature`` added."""
    signed = {**doc, "key": public_jwk(private)}
    return {**signed, "signature": _b64url(es256.sign(private, _signed_bytes(signed)))}


def endorse(
    new: dict[str, Any], *, by: ec.EllipticCurvePrivateKey, at: dt.datetime
) -> dict[str, Any]:
    """The statement that key ``by`` hands over to the public JWK ``new``, signed by ``by``
    (made once, at the rotation, while ``by`` is still the signing key)."""
    statement = {
        "format": ENDORSEMENT,
        "key": new,
        "by": public_jwk(by),
        "endorsed_at": _zulu(at),
    }
    return {**statement, "signature": _b64url(es256.sign(by, _signed_bytes(statement)))}


def _zulu(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def document(
    *,
    generated_at: dt.datetime,
    dscs: Iterable[SigningCertificate],
    issuers: Iterable[tuple[str, dict[str, Any]]],
    revocations: Revocations,
    endorsements: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The unsigned bundle of these keys and revocation entries (and the trust-list key's
    hand-overs, oldest first)."""
    return {
        "format": FORMAT,
        "generated_at": _zulu(generated_at),
        "dsc": [{"kid": b64(c.kid), "country": c.country, "certificate": b64(c.der)} for c in dscs],
        "shc": [{"iss": iss, "jwks": jwks} for iss, jwks in issuers],
        "revocations": {
            "eu-dcc": [
                {
                    "kid": b64(bytes.fromhex(kid)),
                    "hashes": sorted(b64(bytes.fromhex(h)) for h in hs),
                }
                for kid, hs in sorted(revocations.dcc.items())
            ],
            "shc": [
                {"iss": iss, "kid": kid, "rids": sorted(rid_text(r, t) for r, t in rids.items())}
                for (iss, kid), rids in sorted(revocations.shc.items())
            ],
        },
        "endorsements": list(endorsements),
    }


def rid_text(rid: str, before: float | None) -> str:
    return rid if before is None else f"{rid}.{int(before)}"


def parse_rid(text: str) -> tuple[str, float | None]:
    """``rid`` or ``rid.timestamp`` (the SMART Health Cards CRL entry forms)."""
    rid, _, ts = text.partition(".")
    if not rid or len(text) > 200 or (ts and not ts.isdigit()):
        raise TrustFileError(f"{text[:40]!r} is not a revocation id")
    return rid, float(ts) if ts else None


def _public(jwk: Any) -> tuple[str, ec.EllipticCurvePublicKey]:
    """The thumbprint and key of a public EC P-256 JWK (``TrustFileError`` otherwise)."""
    try:
        assert isinstance(jwk, dict)
        key = ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y")}).get_op_key("verify")
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return thumbprint(jwk), key
    except Exception:  # noqa: BLE001 - any malformed part means "not a usable key"
        raise TrustFileError("the bundle's key is malformed") from None


def _signature(doc: dict[str, Any]) -> bytes:
    text = doc.get("signature")
    try:
        assert isinstance(text, str)
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except Exception:  # noqa: BLE001 - any malformed part means "not signed"
        raise TrustFileError("the bundle's signature is malformed") from None


def _signed_by(doc: dict[str, Any], key: ec.EllipticCurvePublicKey) -> bool:
    return es256.holds(key, _signature(doc), _signed_bytes(doc))


def _follow(pinned: str, target: str, endorsements: Any) -> None:
    """Walk the endorsements from the ``pinned`` thumbprint; ``TrustFileError`` unless
    they lead to ``target`` (each hand-over signed by the key it starts from)."""
    if not isinstance(endorsements, list) or len(endorsements) > MAX_ENDORSEMENTS:
        raise TrustFileError("the bundle's key endorsements are malformed")
    current, used = pinned, 0
    while current != target and used < len(endorsements):
        for item in endorsements:
            if not isinstance(item, dict) or item.get("format") != ENDORSEMENT:
                raise TrustFileError("the bundle's key endorsements are malformed")
            by_print, by_key = _public(item.get("by"))
            if by_print != current:
                continue
            if not _signed_by(item, by_key):
                raise TrustFileError("a key endorsement's signature does not verify")
            current = _public(item.get("key"))[0]
            break
        else:
            break
        used += 1
    if current != target:
        raise TrustFileError(
            "the bundle is signed by a key other than the pinned one, and the pinned key "
            "endorsed no key leading to it"
        )


def check_signature(doc: dict[str, Any], *, pinned: str) -> str:
    """Raise ``TrustFileError`` unless ``doc`` is signed by the key pinned by thumbprint,
    or by a key the pinned one endorsed (directly or along a chain of rotations).
    Returns the thumbprint of the key that signed: the device's pin from now on."""
    if doc.get("format") != FORMAT:
        raise TrustFileError(f"not a {FORMAT} bundle")
    signer, key = _public(doc.get("key"))
    if signer != pinned:
        _follow(pinned, signer, doc.get("endorsements", []))
    if not _signed_by(doc, key):
        raise TrustFileError("the bundle's signature does not verify (ES256, raw r||s)")
    return signer


def load(doc: dict[str, Any], *, pinned: str) -> tuple[TrustStore, str]:
    """The trust a signed bundle carries, after checking its signature, and the pin that
    follows (the signing key's thumbprint: it moves after a rotation)."""
    signer = check_signature(doc, pinned=pinned)
    return store_from(doc), signer


def store_from(doc: dict[str, Any]) -> TrustStore:
    """The keys and revocations of a bundle whose signature was checked."""
    store = TrustStore()
    revocations = Revocations()
    try:
        for entry in doc.get("dsc", []):
            store.add_dsc(
                SigningCertificate.from_der(
                    unb64(entry["certificate"]), country=entry.get("country")
                )
            )
        for entry in doc.get("shc", []):
            for key in shc_keys(entry["jwks"], iss=entry["iss"]):
                store.add_shc(key)
        revs = doc.get("revocations", {})
        for entry in revs.get("eu-dcc", []):
            revocations.dcc.setdefault(unb64(entry["kid"]).hex(), set()).update(
                unb64(h).hex() for h in entry["hashes"]
            )
        for entry in revs.get("shc", []):
            rids = revocations.shc.setdefault((entry["iss"], entry["kid"]), {})
            rids.update(parse_rid(r) for r in entry["rids"])
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, TrustFileError):
            raise
        raise TrustFileError("the bundle's entries are malformed") from None
    store.revocations = revocations
    return store
