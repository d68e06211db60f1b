"""Reading a person's certificates: the citizen for their own family, staff with
``certificates:read`` for the people in their reach (audited); anyone else 404.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.certificates import shc
from vaxport.certificates.issuance.models import CURRENT, REVOKED, SHC, Certificate, payload_of
from vaxport.certificates.schemas import CertificateOut
from vaxport.core import audit
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

READ = "certificates:read"
NO_CERTIFICATE = N_("certificate not found")


def certificate_out(row: Certificate) -> CertificateOut:
    """A stored certificate as answered (its payload decrypted; gone once erased)."""
    payload = payload_of(row) or {}
    return CertificateOut(
        id=row.id,
        beneficiary_id=row.beneficiary_id,
        format=row.format,
        status=row.status,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        kid=row.kid,
        uvci=row.uvci,
        dose_ids=[uuid.UUID(d) for d in row.dose_ids],
        qr=payload.get("qr"),
        jws=payload.get("jws"),
    )


async def _person(
    uow: UnitOfWork, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> uuid.UUID:
    person = await registration.person_in_reach(
        uow, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id, permission=READ
    )
    return person.id


async def _audit(uow: UnitOfWork, actor: Actor, person_id: uuid.UUID, **details: object) -> None:
    if actor.kind == "citizen":
        return  # their own family's: not a read of someone else's data
    await audit.record(
        uow,
        by=actor.principal,
        action="certificate.read",
        object_type="beneficiary",
        object_id=person_id,
        details=details,
    )


async def current_certificates(
    *, db: Database, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> list[CertificateOut]:
    """The person's current certificates (the SHC first, then the DCCs by date)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person_id = await _person(uow, tenant, actor, beneficiary_id)
        found = await current_in(uow, tenant.id, person_id)
        await _audit(uow, actor, person_id, certificates=len(found))
        return found


async def current_in(
    uow: UnitOfWork, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> list[CertificateOut]:
    """The person's current certificates, in the caller's transaction, for a use case
    that has authorized and audited the read itself (the pages' prints)."""
    rows = await uow.session.scalars(
        select(Certificate)
        .where(
            Certificate.tenant_id == tenant_id,
            Certificate.beneficiary_id == person_id,
            Certificate.status == CURRENT,
        )
        .order_by(Certificate.format.desc(), Certificate.issued_at, Certificate.id)
    )
    return [certificate_out(r) for r in rows]


async def get_certificate(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    certificate_id: uuid.UUID,
) -> CertificateOut:
    """One certificate of the person, whatever its status (404 when not theirs)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person_id = await _person(uow, tenant, actor, beneficiary_id)
        row = await uow.session.scalar(
            select(Certificate).where(
                Certificate.tenant_id == tenant.id,
                Certificate.beneficiary_id == person_id,
                Certificate.id == certificate_id,
            )
        )
        if row is None:
            raise NotFound(NO_CERTIFICATE)
        await _audit(uow, actor, person_id, certificate_id=str(row.id))
        return certificate_out(row)


async def smart_health_card_file(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    certificate_id: uuid.UUID | None = None,
) -> bytes:
    """The ``.smart-health-card`` file of one of the person's SMART Health Cards, or of
    their current card when ``certificate_id`` is None (404 when there is none)."""
    if certificate_id is None:
        current = await current_certificates(
            db=db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
        )
        card = next((c for c in current if c.format == SHC and c.jws), None)
        if card is None:
            raise NotFound(NO_CERTIFICATE)
    else:
        card = await get_certificate(
            db=db,
            tenant=tenant,
            actor=actor,
            beneficiary_id=beneficiary_id,
            certificate_id=certificate_id,
        )
    if card.format != SHC or not card.jws:
        raise NotFound(N_("this certificate has no SMART Health Card file"))
    return shc.file_content([card.jws])


async def dose_certified(
    session: AsyncSession, tenant_id: uuid.UUID, person_id: uuid.UUID, dose_id: uuid.UUID
) -> bool:
    """Whether a certificate that is not revoked states the person's dose (current or
    superseded: one the person may have shown), in the caller's transaction. Immunization
    asks before a void (its ``certificate_exists`` port, filled by the wiring)."""
    rows = await session.scalars(
        select(Certificate.dose_ids).where(
            Certificate.tenant_id == tenant_id,
            Certificate.beneficiary_id == person_id,
            Certificate.status != REVOKED,
        )
    )
    wanted = str(dose_id)
    return any(wanted in (ids or ()) for ids in rows)
