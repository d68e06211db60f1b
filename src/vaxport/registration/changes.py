"""Changing and erasing a person.

An update changes the fields that do not identify the person (sex, region, language,
guardian relation, contact details, and the declared risk groups and occupations, which
whoever may change the person may set: the family's citizen or staff in reach); names,
birth date and ID numbers change only through a correction request with a reason and a
staff decision. A citizen's phone or e-mail change must be proved by a one-time code
sent to the new destination (``contacts.py``); staff change them directly.

Erasure (a citizen deleting a family member, staff, or ``vaxport person erase``) is for
people never vaccinated: their rows are deleted and their own key destroyed
(crypto-shredding: no copy of their ciphertext can be read again, see
``core/crypto/subjects.py``). A vaccinated person's record is kept for the tenant's
retention period; erasure then answers 409 naming that rule.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select

from vaxport.core import audit
from vaxport.core.crypto import erase_subject
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, Forbidden, NotFound, field_error
from vaxport.core.i18n import N_
from vaxport.core.outbox import emit
from vaxport.core.principal import Principal
from vaxport.identity.service import Actor, Resource, authorize, can
from vaxport.registration.contact_changes import check_contact_proof
from vaxport.registration.models import (
    STATUS_MERGED,
    Beneficiary,
    BeneficiaryDocument,
    CorrectionRequest,
    DuplicateFlag,
    Merge,
)
from vaxport.registration.presenters import documents_of, member_out, resource
from vaxport.registration.reads import audit_reads, is_staff
from vaxport.registration.schemas import MemberOut, MemberUpdate
from vaxport.registration.validation import validate_update
from vaxport.registration.writes import record_change
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

WRITE = "beneficiaries:write"


class RetainedRecord(Conflict):
    """A vaccinated person's record is kept per the tenant's retention rule."""

    slug = "retained-record"
    title = "This record must be kept"


async def _person_for_write(
    uow: UnitOfWork, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> Beneficiary:
    person = await uow.session.scalar(
        select(Beneficiary)
        .where(Beneficiary.tenant_id == tenant.id, Beneficiary.id == beneficiary_id)
        .with_for_update()
    )
    if person is None or person.status == STATUS_MERGED:
        raise NotFound(N_("beneficiary not found"))
    authorize(actor, WRITE, resource(person), what="beneficiary")
    return person


async def update_member(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    body: MemberUpdate,
    settings: Settings,
) -> MemberOut:
    """Change the non-identifying fields of a person in the actor's reach.

    A citizen's new phone or e-mail must carry ``contact_code`` (see ``contacts.py``).
    """
    cols = validate_update(body, config=tenant.config)
    if actor.kind == "citizen":
        if body.contact_code is not None:
            # Reach first: a code is spent (or its attempts counted) only by a caller who
            # may change the person.
            async with db.transaction(tenant_id=tenant.id) as uow:
                await _person_for_write(uow, tenant, actor, beneficiary_id)
        await check_contact_proof(
            db=db,
            settings=settings,
            tenant=tenant,
            beneficiary_id=beneficiary_id,
            cols=cols,
            proof=body.contact_code,
        )
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await _person_for_write(uow, tenant, actor, beneficiary_id)
        region = cols.get("region_code")
        if region is not None and region != person.region_code and is_staff(actor):
            # The person's facility (a vaccinator's own) does not make every region theirs:
            # a move needs authority over the destination region too.
            target = Resource(tenant.id, region_code=region, facility_id=person.facility_id)
            if not (can(actor, WRITE, target) and actor.places_region(tenant, region)):
                raise Forbidden(
                    N_("you cannot move a person outside your jurisdiction"),
                    errors=[field_error("region_code", N_("is outside your jurisdiction"))],
                )
        changed = sorted(k for k, v in cols.items() if getattr(person, k) != v)
        if changed:
            for key in changed:
                setattr(person, key, cols[key])
            # Field names only: the values (a risk group is health data) stay out of the
            # audit log, the outbox and the logs.
            await record_change(
                uow,
                person,
                acting=actor.principal,
                action="beneficiary.update",
                fields=changed,
                details={"fields": changed},
            )
        elif is_staff(actor):
            await audit_reads(uow, actor, "beneficiary.read", [person.id])
        docs = await documents_of(uow.session, tenant.id, [person.id])
        return member_out(person, docs[person.id])


async def delete_member(
    *, db: Database, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> None:
    """Erase a never-vaccinated person in the actor's reach (409 once vaccinated)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await _person_for_write(uow, tenant, actor, beneficiary_id)
        await erase_in(uow, tenant, person, actor.principal)


async def erase_in(
    uow: UnitOfWork, tenant: TenantInfo, person: Beneficiary, acting: Principal
) -> None:
    """Hard-delete ``person`` and destroy their key, in ``uow``; audited without PII.

    Refused once the person is vaccinated, as the row stands under its lock: a dose's
    transaction marks the person under the same lock (``vaccination.mark_vaccinated``), so
    a dose racing the erasure either waits for it (and finds no one) or wins (and is seen
    here), whatever the caller read before.
    """
    vaccinated_at = await uow.session.scalar(
        select(Beneficiary.vaccinated_at)
        .where(Beneficiary.tenant_id == tenant.id, Beneficiary.id == person.id)
        .with_for_update()
    )
    if vaccinated_at is not None or person.vaccinated_at is not None:
        years = tenant.config.retention.vaccinated_records_years
        raise RetainedRecord(
            f"this person has been vaccinated: the record is kept for {years} years "
            "(the country's retention rule for vaccinated people) and cannot be erased",
            retention_years=years,
        )
    merged_into_it = await uow.session.scalar(
        select(func.count())
        .select_from(Beneficiary)
        .where(Beneficiary.tenant_id == tenant.id, Beneficiary.merged_into_id == person.id)
    )
    if merged_into_it:
        raise Conflict(N_("other records are merged into this one: undo those merges first"))
    pid, via = person.id, person.created_via
    documents = await uow.session.scalar(
        select(func.count())
        .select_from(BeneficiaryDocument)
        .where(
            BeneficiaryDocument.tenant_id == tenant.id, BeneficiaryDocument.beneficiary_id == pid
        )
    )
    for model, column in (
        (Merge, Merge.merged_id),
        (Merge, Merge.survivor_id),
        (DuplicateFlag, DuplicateFlag.beneficiary_id),
        (DuplicateFlag, DuplicateFlag.candidate_id),
        (CorrectionRequest, CorrectionRequest.beneficiary_id),
        (BeneficiaryDocument, BeneficiaryDocument.beneficiary_id),
    ):
        await uow.session.execute(delete(model).where(model.tenant_id == tenant.id, column == pid))
    await uow.session.execute(
        delete(Beneficiary).where(Beneficiary.tenant_id == tenant.id, Beneficiary.id == pid)
    )
    # Rows first (some ciphertext columns are NOT NULL), then the key: crypto-shredding
    # makes any copy of this person's ciphertext taken before now unreadable.
    await erase_subject(uow.session, tenant_id=tenant.id, subject_id=pid)
    uow.session.expunge_all()
    await audit.record(
        uow,
        by=acting,
        action="beneficiary.erase",
        object_type="beneficiary",
        object_id=pid,
        details={"via": via, "documents": int(documents or 0)},
    )
    await emit(uow, "beneficiary.erased", {"beneficiary_id": str(pid)})
