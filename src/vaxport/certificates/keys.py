"""Certificate signing keys: create, import, rotate and list them.

Use cases over :class:`~vaxport.certificates.models.CertificateKey` (see its module for
the states). Each act writes its key row and an audit entry in one transaction of the
tenant. The private key is wrapped by the key provider before it reaches a row and is
unwrapped only in memory to sign (:mod:`.signers`); nothing here logs, prints or returns
it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vaxport.certificates import pki
from vaxport.certificates.models import (
    ACTIVE,
    FORMAT_CSCA,
    FORMAT_DCC,
    FORMAT_SHC,
    ORIGIN_GENERATED,
    ORIGIN_IMPORTED,
    RETIRED,
    CertificateKey,
    wrap_context,
)
from vaxport.certificates.signers import (
    ALG,
    SCALAR_BYTES,
    KeyStateError,
    active_row,
    dcc_kid,
    forget,
    private_from,
    public_jwk,
    scalar_of,
    unwrap,
)
from vaxport.core import audit, clock
from vaxport.core.crypto.state import get_keyring
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.ids import uuid7
from vaxport.core.principal import OPERATOR

RID_SECRET_BYTES = 32
# Beyond the certificates' own validity: clocks, and replicas still signing with the old
# key until their signer cache expires.
PUBLISH_MARGIN = dt.timedelta(days=1)
DEFAULT_CSCA_DAYS = 3650
DEFAULT_DSC_DAYS = 730


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A certificate key as operators see it: no key material."""

    kid: str
    format: str
    state: str
    origin: str
    created_at: dt.datetime
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    publish_until: dt.datetime | None
    subject: str | None


# ------------------------------------------------------------------------- key material


async def _row(
    tenant_id: uuid.UUID,
    key_format: str,
    kid: str,
    secret: bytes,
    jwk: dict[str, Any],
    *,
    origin: str,
    cert: x509.Certificate | None = None,
    cert_der: bytes | None = None,
) -> CertificateKey:
    provider = get_keyring().provider
    wrapped = await asyncio.to_thread(
        provider.wrap, secret, wrap_context(tenant_id, key_format, kid)
    )
    return CertificateKey(
        id=uuid7(),
        tenant_id=tenant_id,
        format=key_format,
        kid=kid,
        alg=ALG,
        state=ACTIVE,
        origin=origin,
        public_jwk=jwk,
        certificate=cert_der,
        private_key_wrapped=wrapped.blob,
        provider=provider.name,
        provider_key_id=wrapped.kek_id,
        not_before=cert.not_valid_before_utc if cert is not None else None,
        not_after=cert.not_valid_after_utc if cert is not None else None,
        created_at=clock.utcnow(),
    )


# ---------------------------------------------------------------------------- queries


async def _active(uow: UnitOfWork, tenant_id: uuid.UUID, key_format: str) -> CertificateKey | None:
    found: CertificateKey | None = (
        await uow.session.execute(
            select(CertificateKey)
            .where(
                CertificateKey.tenant_id == tenant_id,
                CertificateKey.format == key_format,
                CertificateKey.state == ACTIVE,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    return found


async def _audit(uow: UnitOfWork, action: str, row: CertificateKey, **details: Any) -> None:
    await audit.record(
        uow,
        by=OPERATOR,
        action=action,
        object_type="certificate_key",
        object_id=row.kid,
        details={"format": row.format, **details},
    )


async def _retire(
    uow: UnitOfWork, old: CertificateKey, *, validity_days: int, now: dt.datetime
) -> None:
    """Stop ``old`` signing; publish it until its last certificate has expired."""
    last_expiry = now + dt.timedelta(days=validity_days)
    if old.not_after is not None:  # a certificate never outlives its DSC (dcc.encode_all)
        last_expiry = min(last_expiry, old.not_after)
    until = last_expiry + PUBLISH_MARGIN
    await uow.session.execute(
        update(CertificateKey)
        .where(CertificateKey.id == old.id, CertificateKey.state == ACTIVE)
        .values(state=RETIRED, retired_at=now, publish_until=until)
    )
    await uow.session.flush()
    await _audit(uow, "certificates.key_retired", old, publish_until=until.isoformat())


def _info(row: CertificateKey) -> KeyInfo:
    subject = None
    if row.certificate is not None:
        subject = x509.load_der_x509_certificate(bytes(row.certificate)).subject.rfc4514_string()
    return KeyInfo(
        kid=row.kid,
        format=row.format,
        state=row.state,
        origin=row.origin,
        created_at=row.created_at,
        not_before=row.not_before,
        not_after=row.not_after,
        publish_until=row.publish_until,
        subject=subject,
    )


# ---------------------------------------------------------------------------- use cases


async def _install(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    row: CertificateKey,
    replace: bool,
    validity_days: int,
    action: str,
) -> KeyInfo:
    """Make ``row`` the tenant's active key of its format (retiring the old one if
    ``replace``; refusing if there is one otherwise)."""
    now = clock.utcnow()
    try:
        await _swap(
            db,
            tenant_id=tenant_id,
            row=row,
            replace=replace,
            validity_days=validity_days,
            action=action,
            now=now,
        )
    except IntegrityError as exc:  # the one-active index: a concurrent init won
        raise KeyStateError(
            f"another {row.format} key was installed at the same time; see list-cert"
        ) from exc
    forget(db)
    return _info(row)


async def _swap(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    row: CertificateKey,
    replace: bool,
    validity_days: int,
    action: str,
    now: dt.datetime,
) -> CertificateKey | None:
    async with db.transaction(tenant_id=tenant_id) as uow:
        old = await _active(uow, tenant_id, row.format)
        if old is not None and not replace:
            raise KeyStateError(
                f"the tenant already has an active {row.format} key ({old.kid}); rotate it instead"
            )
        if old is None and replace:
            raise KeyStateError(
                f"the tenant has no active {row.format} key to rotate (none yet, or another "
                "rotation just replaced it: see list-cert)"
            )
        if old is not None:
            await _retire(uow, old, validity_days=validity_days, now=now)
        uow.session.add(row)
        await uow.session.flush()
        await _audit(uow, action, row, replaces=old.kid if old is not None else None)
    return old


async def _csca(db: Database, tenant_id: uuid.UUID) -> pki.CertifiedKey:
    row = await active_row(db, tenant_id, FORMAT_CSCA)
    assert row.certificate is not None
    cert = x509.load_der_x509_certificate(bytes(row.certificate))
    return pki.CertifiedKey(private_from((await unwrap(row))[:SCALAR_BYTES]), cert)


async def init_csca(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    country: str,
    organisation: str,
    common_name: str,
    days: int = DEFAULT_CSCA_DAYS,
) -> KeyInfo:
    """Create the tenant's Country Signing CA (self-signed; it signs DSCs only)."""
    made = pki.make_csca(
        country=country,
        organisation=organisation,
        common_name=common_name,
        days=days,
        now=clock.utcnow(),
    )
    row = await _row(
        tenant_id,
        FORMAT_CSCA,
        dcc_kid(made.der),
        scalar_of(made.private_key),
        public_jwk(made.private_key),
        origin=ORIGIN_GENERATED,
        cert=made.certificate,
        cert_der=made.der,
    )
    return await _install(
        db,
        tenant_id=tenant_id,
        row=row,
        replace=False,
        validity_days=0,
        action="certificates.key_created",
    )


async def _dsc_row(tenant_id: uuid.UUID, made: pki.CertifiedKey, origin: str) -> CertificateKey:
    return await _row(
        tenant_id,
        FORMAT_DCC,
        dcc_kid(made.der),
        scalar_of(made.private_key),
        public_jwk(made.private_key),
        origin=origin,
        cert=made.certificate,
        cert_der=made.der,
    )


async def init_dsc(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    common_name: str,
    days: int = DEFAULT_DSC_DAYS,
    validity_days: int,
    rotate: bool = False,
) -> KeyInfo:
    """A new Document Signer under the tenant's CSCA; ``rotate`` retires the active one."""
    csca = await _csca(db, tenant_id)
    try:
        made = pki.make_dsc(csca, common_name=common_name, days=days, now=clock.utcnow())
    except pki.PkiError as exc:
        raise KeyStateError(str(exc)) from exc
    row = await _dsc_row(tenant_id, made, ORIGIN_GENERATED)
    action = "certificates.key_rotated" if rotate else "certificates.key_created"
    return await _install(
        db, tenant_id=tenant_id, row=row, replace=rotate, validity_days=validity_days, action=action
    )


async def import_dsc(
    db: Database, *, tenant_id: uuid.UUID, cert_data: bytes, key_data: bytes, validity_days: int
) -> KeyInfo:
    """Install a DSC from the operator's PKI (checked); an active DSC is retired."""
    try:
        made = pki.check_import(cert_data, key_data, now=clock.utcnow())
    except pki.PkiError as exc:
        raise KeyStateError(str(exc)) from exc
    row = await _dsc_row(tenant_id, made, ORIGIN_IMPORTED)
    async with db.read(tenant_id=tenant_id) as s:
        has_active = (
            await s.execute(
                select(CertificateKey.id).where(
                    CertificateKey.tenant_id == tenant_id,
                    CertificateKey.format == FORMAT_DCC,
                    CertificateKey.state == ACTIVE,
                )
            )
        ).first() is not None
        taken = (
            await s.execute(
                select(CertificateKey.id).where(
                    CertificateKey.tenant_id == tenant_id, CertificateKey.kid == row.kid
                )
            )
        ).first() is not None
    if taken:
        raise KeyStateError(f"this certificate ({row.kid}) is already installed")
    return await _install(
        db,
        tenant_id=tenant_id,
        row=row,
        replace=has_active,
        validity_days=validity_days,
        action="certificates.key_imported",
    )


async def init_shc(
    db: Database, *, tenant_id: uuid.UUID, validity_days: int, rotate: bool = False
) -> KeyInfo:
    """A new SMART Health Card issuer key (and its revocation secret)."""
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(key)
    secret = scalar_of(key) + os.urandom(RID_SECRET_BYTES)
    row = await _row(tenant_id, FORMAT_SHC, jwk["kid"], secret, jwk, origin=ORIGIN_GENERATED)
    action = "certificates.key_rotated" if rotate else "certificates.key_created"
    return await _install(
        db, tenant_id=tenant_id, row=row, replace=rotate, validity_days=validity_days, action=action
    )


async def list_keys(db: Database, *, tenant_id: uuid.UUID) -> list[KeyInfo]:
    """Every certificate key of the tenant, oldest first (no key material)."""
    async with db.read(tenant_id=tenant_id) as s:
        rows = (
            await s.execute(
                select(CertificateKey)
                .where(CertificateKey.tenant_id == tenant_id)
                .order_by(CertificateKey.format, CertificateKey.created_at)
            )
        ).scalars()
        return [_info(r) for r in rows]
