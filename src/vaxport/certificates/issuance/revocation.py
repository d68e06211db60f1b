"""Revocations an admin decides: a person's certificates (confirmed fraud), and every
certificate of the doses drawn from a faulty lot.

Both withhold the doses concerned from certificates (``certificate_withheld_doses``),
so no recomputation ever states them again, and revoke what states them: the person's
at once, in the admin's transaction; a lot's through one
``certificates.recompute_requested`` event per person, which the worker handles within
seconds (a lot may concern thousands of people). Each is audited and naturally
idempotent: asking again withholds and revokes nothing more.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.certificates.issuance import own_trust, signing
from vaxport.certificates.issuance.events import RECOMPUTE_REQUESTED, issuer_url
from vaxport.certificates.issuance.models import REASON_FAULTY_LOT, REASON_FRAUD, WithheldDose
from vaxport.certificates.issuance.recompute import recompute
from vaxport.core import audit
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Forbidden, NotFound
from vaxport.core.i18n import N_
from vaxport.core.outbox import emit
from vaxport.identity.service import Actor
from vaxport.immunization import service as immunization
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

REVOKE = "certificates:revoke"


@dataclass(frozen=True, slots=True)
class Revoked:
    """What a revocation did: certificates revoked now, doses withheld, people concerned."""

    revoked: int
    doses_withheld: int
    people: int


async def _withhold(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    doses: list[tuple[uuid.UUID, uuid.UUID]],
    *,
    reason: str,
    by: uuid.UUID | None,
    lot_id: uuid.UUID | None = None,
) -> int:
    if not doses:
        return 0
    known = set(
        await uow.session.scalars(
            select(WithheldDose.dose_id).where(
                WithheldDose.tenant_id == tenant_id,
                WithheldDose.dose_id.in_([d for d, _ in doses]),
            )
        )
    )
    fresh = [(d, p) for d, p in doses if d not in known]
    uow.session.add_all(
        WithheldDose(
            tenant_id=tenant_id,
            beneficiary_id=person,
            dose_id=dose,
            reason=reason,
            lot_id=lot_id,
            created_by=by,
        )
        for dose, person in fresh
    )
    await uow.session.flush()
    return len(fresh)


async def revoke_person(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    public_url: str,
) -> Revoked:
    """Revoke a person's certificates for confirmed fraud (their doses so far are
    withheld; a dose recorded later is certified again). 404 outside the actor's reach."""
    signers = await signing.load(db, tenant, iss=issuer_url(tenant, public_url=public_url))
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await registration.person_in_reach(
            uow, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id, permission=REVOKE
        )
        doses = await immunization.certified_doses(uow.session, tenant.id, person.id)
        withheld = await _withhold(
            uow,
            tenant.id,
            [(d.id, d.beneficiary_id) for d in doses],
            reason=REASON_FRAUD,
            by=actor.account_id,
        )
        out = await recompute(
            uow, tenant=tenant, signers=signers, person_id=person.id, base_url=public_url
        )
        revoked = sum(out.revoked.values())
        await audit.record(
            uow,
            by=actor.principal,
            action="certificates.revoked",
            object_type="beneficiary",
            object_id=person.id,
            details={"reason": REASON_FRAUD, "revoked": revoked, "doses_withheld": withheld},
        )
    own_trust.forget(db)
    return Revoked(revoked=revoked, doses_withheld=withheld, people=1)


async def revoke_lot(
    *, db: Database, tenant: TenantInfo, actor: Actor, lot_id: uuid.UUID
) -> Revoked:
    """Withhold every recorded dose of a faulty lot and revoke their certificates (the
    worker recomputes each person). National admins only: a lot crosses regions."""
    if actor.region_code is not None or actor.facility_id is not None:
        raise Forbidden(N_("only a national admin may revoke the certificates of a lot"))
    async with db.transaction(tenant_id=tenant.id) as uow:
        doses = await immunization.doses_of_lot(uow.session, tenant.id, lot_id)
        if doses is None:
            raise NotFound(N_("lot not found"))
        withheld = await _withhold(
            uow, tenant.id, doses, reason=REASON_FAULTY_LOT, by=actor.account_id, lot_id=lot_id
        )
        people = sorted({person for _, person in doses})
        for person in people:
            await emit(uow, RECOMPUTE_REQUESTED, {"beneficiary_id": str(person)})
        await audit.record(
            uow,
            by=actor.principal,
            action="certificates.lot_revoked",
            object_type="lot",
            object_id=lot_id,
            details={"doses_withheld": withheld, "people": len(people)},
        )
    return Revoked(revoked=0, doses_withheld=withheld, people=len(people))
