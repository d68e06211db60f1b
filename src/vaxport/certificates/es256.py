"""ES256 as every format here writes it: ECDSA P-256 over SHA-256 with the signature as
raw ``r || s`` (64 bytes; COSE, JWS and the trust bundle alike), never DER."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

SIGNATURE_BYTES = 64
_HALF = SIGNATURE_BYTES // 2


def sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """The raw ``r || s`` signature of ``data``."""
    r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_HALF, "big") + s.to_bytes(_HALF, "big")


def holds(public_key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` (raw ``r || s``; a DER one is refused) signs ``data``."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    der = encode_dss_signature(
        int.from_bytes(signature[:_HALF], "big"), int.from_bytes(signature[_HALF:], "big")
    )
    try:
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
