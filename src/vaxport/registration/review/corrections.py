"""Corrections: a citizen asks to correct a name, birth date or ID number; staff decide.

- The citizen managing a person (or staff reaching them) files a request with a reason;
  one pending request per field at a time. A new ID number already held by another
  record is filed like any other (the same 201): the one asking is not told that someone
  holds it; the approver is (``held_elsewhere``), and approval answers 409.
- Staff holding ``beneficiaries:approve`` over the person (national, their region
  subtree, their facility) list the pending queue and approve or reject with a note.
  Anyone else is told the request does not exist (404).
- Approval changes the record, keeps the value it replaced (encrypted) in ``previous``,
  bumps the record's version and emits ``beneficiary.corrected`` so certificates can be
  reissued. Deciding locks the request: two approvers at once get one decision and a 409.
- The citizen may withdraw a pending request, and read the history of their person's.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core import clock
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.outbox import emit
from vaxport.identity.service import Actor
from vaxport.registration.models import (
    STATUS_MERGED,
    Beneficiary,
    BeneficiaryDocument,
    CorrectionRequest,
)
from vaxport.registration.review import correction_values as values
from vaxport.registration.review import reach
from vaxport.registration.review.schemas import CorrectionOut
from vaxport.tenancy.service import TenantInfo

CORRECTED = "beneficiary.corrected"
PENDING, APPROVED, REJECTED, WITHDRAWN = "pending", "approved", "rejected", "withdrawn"
ID_TAKEN = N_("this ID number cannot be registered to this person")


def view(row: CorrectionRequest) -> CorrectionOut:
    """The DTO of a request (decrypting its fields)."""
    return CorrectionOut(
        id=row.id,
        beneficiary_id=row.beneficiary_id,
        field=row.field,
        status=row.status,
        proposed=dict(row.proposed or {}),
        previous=dict(row.previous) if row.previous is not None else None,
        reason=row.reason or "",
        decision_note=row.decision_note,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


async def _documents(uow: UnitOfWork, beneficiary: Beneficiary) -> list[BeneficiaryDocument]:
    query = select(BeneficiaryDocument).where(
        BeneficiaryDocument.tenant_id == beneficiary.tenant_id,
        BeneficiaryDocument.beneficiary_id == beneficiary.id,
    )
    return list((await uow.session.execute(query.order_by(BeneficiaryDocument.id))).scalars())


def _replaced(
    documents: list[BeneficiaryDocument], id_type: str, document_id: uuid.UUID | None
) -> BeneficiaryDocument | None:
    """The document an ID-number correction replaces (None: it adds one)."""
    if document_id is not None:
        for document in documents:
            if document.id == document_id:
                return document
        raise invalid("document_id", N_("is not a document of this person"))
    if len(documents) <= 1:
        return documents[0] if documents else None
    same = [d for d in documents if d.id_type == id_type]
    if len(same) == 1:
        return same[0]
    raise invalid("document_id", N_("choose which of this person's documents to correct"))


async def _holders(
    uow: UnitOfWork, beneficiary: Beneficiary, proposed: dict[str, Any]
) -> list[uuid.UUID]:
    """The records holding the proposed ID number (this one included, if it does)."""
    clause = await blind_match(
        uow.session,
        BeneficiaryDocument.number_bidx,
        tenant_id=beneficiary.tenant_id,
        kind="id_number",
        value=proposed["number"],
    )
    query = select(BeneficiaryDocument.beneficiary_id).where(
        BeneficiaryDocument.tenant_id == beneficiary.tenant_id,
        BeneficiaryDocument.id_type == proposed["id_type"],
        clause,
    )
    return list((await uow.session.execute(query)).scalars())


async def _check_not_own(
    uow: UnitOfWork, beneficiary: Beneficiary, proposed: dict[str, Any]
) -> None:
    """422 when the person already holds the number. Whether *another* record holds it
    is not said to the one asking (issue 12, finding 8: 409 against 201 told any citizen
    who is registered): the request is filed all the same and the approver sees it."""
    if beneficiary.id in await _holders(uow, beneficiary, proposed):
        raise invalid("value", N_("is already this person's ID number"))


async def held_elsewhere(uow: UnitOfWork, row: CorrectionRequest, beneficiary: Beneficiary) -> bool:
    """Whether another record holds the ID number an ID-number request proposes (staff)."""
    if row.field != "id_number":
        return False
    holders = await _holders(uow, beneficiary, dict(row.proposed or {}))
    return any(holder != beneficiary.id for holder in holders)


async def _check_number_free(
    uow: UnitOfWork, beneficiary: Beneficiary, proposed: dict[str, Any]
) -> None:
    """At approval: 409 when another record holds the number (the approver may know)."""
    for holder in await _holders(uow, beneficiary, proposed):
        if holder == beneficiary.id:
            raise invalid("value", N_("is already this person's ID number"))
        raise Conflict(ID_TAKEN, errors=[field_error("value", N_("is already registered"))])


async def request_correction(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    field: str,
    value: str,
    reason: str,
    id_type: str | None = None,
    document_id: uuid.UUID | None = None,
) -> CorrectionOut:
    """File a request to correct ``field`` of a person the actor manages."""
    values.check_field(field)
    text = values.check_text(reason, field="reason", maximum=values.REASON_MAX, required=True)
    proposed = values.proposal(tenant, field, value, id_type)
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        beneficiary = await reach.load(uow, actor, beneficiary_id, "beneficiaries:write")
        if beneficiary.status == STATUS_MERGED:
            raise Conflict(N_("this record was merged into another; correct that one"))
        document = None
        if field == "id_number":
            document = _replaced(
                await _documents(uow, beneficiary), proposed["id_type"], document_id
            )
            await _check_not_own(uow, beneficiary, proposed)
        elif proposed == values.current(beneficiary, field, None):
            raise invalid("value", N_("is the record's present value"))
        pending = await uow.session.scalar(
            select(CorrectionRequest.id).where(
                CorrectionRequest.tenant_id == actor.tenant_id,
                CorrectionRequest.beneficiary_id == beneficiary.id,
                CorrectionRequest.field == field,
                CorrectionRequest.status == PENDING,
            )
        )
        if pending is not None:
            raise Conflict(
                N_("a correction of this field is already waiting for a decision"),
                errors=[field_error("field", N_("already has a pending request"))],
            )
        row = CorrectionRequest(
            id=uuid7(),
            tenant_id=actor.tenant_id,
            beneficiary_id=beneficiary.id,
            field=field,
            document_id=document.id if document is not None else None,
            status=PENDING,
            region_code=beneficiary.region_code,
            facility_id=beneficiary.facility_id,
            requested_by=actor.account_id,
            created_at=clock.utcnow(),
        )
        row.proposed = proposed
        row.reason = text
        uow.session.add(row)
        await uow.session.flush()
        await reach.record(
            uow,
            actor,
            "beneficiary.correction_requested",
            beneficiary.id,
            {"correction_id": str(row.id), "field": field},
        )
        return view(row)


async def _load_request(
    uow: UnitOfWork, actor: Actor, correction_id: uuid.UUID, *, lock: bool = False
) -> CorrectionRequest:
    query = select(CorrectionRequest).where(
        CorrectionRequest.tenant_id == actor.tenant_id, CorrectionRequest.id == correction_id
    )
    if lock:
        # Deciders queue on the row; the second one then reads the first one's decision.
        query = query.with_for_update().execution_options(populate_existing=True)
    row = (await uow.session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(N_("correction request not found"))
    return row


async def for_approver(
    uow: UnitOfWork, actor: Actor, correction_id: uuid.UUID, *, lock: bool = False
) -> tuple[CorrectionRequest, Beneficiary]:
    reach.staff_only(actor)
    row = await _load_request(uow, actor, correction_id, lock=lock)
    try:
        beneficiary = await reach.load(
            uow, actor, row.beneficiary_id, "beneficiaries:approve", lock=lock
        )
    except NotFound:
        raise NotFound(N_("correction request not found")) from None
    return row, beneficiary


async def document_of(uow: UnitOfWork, row: CorrectionRequest) -> BeneficiaryDocument | None:
    if row.document_id is None:
        return None
    return await uow.session.get(BeneficiaryDocument, row.document_id)


def _decided(row: CorrectionRequest) -> Conflict:
    return Conflict(
        N_("this request was already {status}"),
        params={"status": row.status},
        status_now=row.status,
    )


async def _approve(
    uow: UnitOfWork, row: CorrectionRequest, beneficiary: Beneficiary
) -> dict[str, Any] | None:
    """Change the record as the request asks; the value it replaced."""
    proposed = dict(row.proposed or {})
    if row.field != "id_number":
        previous = values.current(beneficiary, row.field, None)
        values.apply(beneficiary, row.field, proposed)
        return previous
    await _check_number_free(uow, beneficiary, proposed)
    document = await document_of(uow, row)
    previous = values.current(beneficiary, row.field, document)
    if document is None:
        document = BeneficiaryDocument(
            id=uuid7(), tenant_id=beneficiary.tenant_id, beneficiary_id=beneficiary.id
        )
        uow.session.add(document)
    document.id_type = proposed["id_type"]
    document.number = proposed["number"]
    row.document_id = document.id
    return previous


async def decide(
    *,
    db: Database,
    actor: Actor,
    correction_id: uuid.UUID,
    approve: bool,
    note: str | None = None,
) -> CorrectionOut:
    """Approve (the record changes) or reject a pending request; exactly one decision."""
    text = values.check_text(note, field="note", maximum=values.NOTE_MAX, required=False)
    try:
        async with db.transaction(tenant_id=actor.tenant_id) as uow:
            row, beneficiary = await for_approver(uow, actor, correction_id, lock=True)
            if row.status != PENDING:
                raise _decided(row)
            now = clock.utcnow()
            row.decided_by, row.decided_at, row.decision_note = actor.account_id, now, text
            details = {"correction_id": str(row.id), "field": row.field}
            if not approve:
                row.status = REJECTED
                await reach.record(
                    uow,
                    actor,
                    "beneficiary.correction_rejected",
                    beneficiary.id,
                    details,
                )
                return view(row)
            if beneficiary.status == STATUS_MERGED:
                raise Conflict(N_("this record was merged into another; it cannot be corrected"))
            row.previous = await _approve(uow, row, beneficiary)
            row.status = APPROVED
            beneficiary.version += 1
            beneficiary.updated_at = now
            await uow.session.flush()
            await reach.record(uow, actor, "beneficiary.corrected", beneficiary.id, details)
            await emit(
                uow,
                CORRECTED,
                {
                    "beneficiary_id": str(beneficiary.id),
                    "correction_id": str(row.id),
                    "field": row.field,
                    "version": beneficiary.version,
                },
            )
            return view(row)
    except IntegrityError as exc:
        # Another record took the number between our check and our write.
        raise Conflict(
            ID_TAKEN, errors=[field_error("value", N_("is already registered"))]
        ) from exc


async def withdraw(*, db: Database, actor: Actor, correction_id: uuid.UUID) -> CorrectionOut:
    """The person who manages the record takes back a pending request."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        row = await _load_request(uow, actor, correction_id, lock=True)
        try:
            await reach.load(uow, actor, row.beneficiary_id, "beneficiaries:write")
        except NotFound:
            raise NotFound(N_("correction request not found")) from None
        if row.status != PENDING:
            raise _decided(row)
        row.status = WITHDRAWN
        row.decided_at = clock.utcnow()
        await reach.record(
            uow,
            actor,
            "beneficiary.correction_withdrawn",
            row.beneficiary_id,
            {"correction_id": str(row.id), "field": row.field},
        )
        return view(row)


async def history(*, db: Database, actor: Actor, beneficiary_id: uuid.UUID) -> list[CorrectionOut]:
    """Every request about a person the actor may read, newest first."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        beneficiary = await reach.load(uow, actor, beneficiary_id, "beneficiaries:read")
        rows = (
            await uow.session.execute(
                select(CorrectionRequest)
                .where(
                    CorrectionRequest.tenant_id == actor.tenant_id,
                    CorrectionRequest.beneficiary_id == beneficiary.id,
                )
                .order_by(CorrectionRequest.id.desc())
            )
        ).scalars()
        out = [view(r) for r in rows]
        if actor.kind == "staff":
            await reach.record(uow, actor, "beneficiary.corrections_read", beneficiary.id, {})
        return out
