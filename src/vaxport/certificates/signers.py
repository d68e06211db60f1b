"""Certificate keys at work: unwrapped to sign (cached briefly), and published.

Signers are kept in this process for ``SIGNER_CACHE_SECONDS`` (unwrapping may be a KMS
call); a rotation elsewhere is picked up within that time, and the retired key's
certificates verify meanwhile, as it stays published. Published keys are the active one
and the retired ones whose ``publish_until`` lies ahead.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from sqlalchemy import or_, select

from vaxport.certificates import dcc
from vaxport.certificates.models import (
    ACTIVE,
    FORMAT_CSCA,
    FORMAT_DCC,
    FORMAT_SHC,
    RETIRED,
    CertificateKey,
    wrap_context,
)
from vaxport.certificates.shc import ShcSigner
from vaxport.core import clock
from vaxport.core.crypto.providers import WrappedKey
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database

ALG = "ES256"
SCALAR_BYTES = 32
SIGNER_CACHE_SECONDS = 60.0


class KeyStateError(ValueError):
    """The act does not fit the tenant's keys (the message says what to do instead)."""


# ------------------------------------------------------------------------- key material


def scalar_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_numbers().private_value.to_bytes(SCALAR_BYTES, "big")


def private_from(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """The public JWK (``kty, crv, x, y``) of ``key``, with its thumbprint as ``kid``."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    jwk = ECKey.import_key(public)
    out = {k: v for k, v in jwk.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")}
    out.update(kid=jwk.thumbprint(), use="sig", alg=ALG)
    return out


def dcc_kid(certificate_der: bytes) -> str:
    """The DCC ``kid`` as text: base64 of the first 8 bytes of SHA-256 of the DER."""
    return base64.b64encode(dcc.kid_of(certificate_der)).decode("ascii")


async def unwrap(row: CertificateKey) -> bytes:
    provider = get_keyring().provider
    secret: bytes = await asyncio.to_thread(
        provider.unwrap,
        WrappedKey(bytes(row.private_key_wrapped), row.provider_key_id),
        wrap_context(row.tenant_id, row.format, row.kid),
    )
    return secret


async def published(db: Database, tenant_id: uuid.UUID, key_format: str) -> list[CertificateKey]:
    now = clock.utcnow()
    async with db.read(tenant_id=tenant_id) as s:
        rows = (
            await s.execute(
                select(CertificateKey)
                .where(
                    CertificateKey.tenant_id == tenant_id,
                    CertificateKey.format == key_format,
                    or_(
                        CertificateKey.state == ACTIVE,
                        (CertificateKey.state == RETIRED) & (CertificateKey.publish_until > now),
                    ),
                )
                .order_by(CertificateKey.created_at)
            )
        ).scalars()
        found = list(rows)
        s.expunge_all()  # kept loaded: the read's rollback would expire them
        return found


async def shc_jwks(db: Database, *, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's SHC issuer JWKS: the active key and retired ones still published."""
    rows = await published(db, tenant_id, FORMAT_SHC)
    return {"keys": [dict(r.public_jwk) for r in rows]}


async def dsc_certificates(db: Database, *, tenant_id: uuid.UUID) -> list[bytes]:
    """The DER of the tenant's published Document Signer Certificates (for trust lists)."""
    return [
        bytes(r.certificate) for r in await published(db, tenant_id, FORMAT_DCC) if r.certificate
    ]


# ------------------------------------------------------------------------------ signers


@dataclass
class _Cached:
    at: float
    signer: Any


_signers: weakref.WeakKeyDictionary[Database, dict[tuple[uuid.UUID, str], _Cached]] = (
    weakref.WeakKeyDictionary()
)


def forget(db: Database) -> None:
    """Drop this process's cached signers for ``db`` (after a rotation or KEK change)."""
    _signers.pop(db, None)


async def active_row(db: Database, tenant_id: uuid.UUID, key_format: str) -> CertificateKey:
    async with db.read(tenant_id=tenant_id) as s:
        row = (
            await s.execute(
                select(CertificateKey).where(
                    CertificateKey.tenant_id == tenant_id,
                    CertificateKey.format == key_format,
                    CertificateKey.state == ACTIVE,
                )
            )
        ).scalar_one_or_none()
        s.expunge_all()  # kept loaded: the read's rollback would expire it
    if row is None:
        command = {FORMAT_CSCA: "init-csca", FORMAT_DCC: "init-dsc or import-dsc"}.get(
            key_format, "init-shc"
        )
        raise KeyStateError(f"the tenant has no active {key_format} key: vaxport keys {command}")
    return row


async def _signer(db: Database, tenant_id: uuid.UUID, key_format: str) -> Any:
    cache = _signers.setdefault(db, {})
    hit = cache.get((tenant_id, key_format))
    if hit is not None and time.monotonic() - hit.at < SIGNER_CACHE_SECONDS:
        return hit.signer
    row = await active_row(db, tenant_id, key_format)
    secret = await unwrap(row)
    private = private_from(secret[:SCALAR_BYTES])
    signer: Any
    if key_format == FORMAT_DCC:
        assert row.certificate is not None
        assert row.not_after is not None
        signer = dcc.DccSigner(
            kid=dcc.kid_of(bytes(row.certificate)), private_key=private, not_after=row.not_after
        )
    else:
        signer = ShcSigner(kid=row.kid, private_key=private, rid_secret=secret[SCALAR_BYTES:])
    cache[(tenant_id, key_format)] = _Cached(time.monotonic(), signer)
    return signer


async def dcc_signer(db: Database, *, tenant_id: uuid.UUID) -> dcc.DccSigner:
    """The tenant's active Document Signer, ready to sign."""
    signer: dcc.DccSigner = await _signer(db, tenant_id, FORMAT_DCC)
    return signer


async def shc_signer(db: Database, *, tenant_id: uuid.UUID) -> ShcSigner:
    """The tenant's active SMART Health Card issuer key, ready to sign."""
    signer: ShcSigner = await _signer(db, tenant_id, FORMAT_SHC)
    return signer
