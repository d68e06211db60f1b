"""The approvers' side of corrections: the pending queue and one request to decide.

The queue lists no personal data (a reference, the field, where, when); opening a request
shows the present and proposed values and is recorded in the audit log as a staff read.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.registration.models import Beneficiary, CorrectionRequest
from vaxport.registration.review import correction_values as values
from vaxport.registration.review import corrections, reach
from vaxport.registration.review.schemas import QueueItemOut, QueuePageOut, ReviewOut


async def list_pending(
    *, db: Database, actor: Actor, cursor: str | None = None, limit: int = 50
) -> QueuePageOut:
    """Pending requests about people in the approver's jurisdiction, oldest first."""
    reach.staff_only(actor)
    reach.check_limit(limit)
    if not actor.has("beneficiaries:approve"):
        raise NotFound(N_("not found"))
    query = (
        select(CorrectionRequest, Beneficiary.reference)
        .join(Beneficiary, Beneficiary.id == CorrectionRequest.beneficiary_id)
        .where(
            CorrectionRequest.tenant_id == actor.tenant_id,
            CorrectionRequest.status == corrections.PENDING,
            *reach.located(actor, CorrectionRequest.region_code, CorrectionRequest.facility_id),
        )
    )
    start = reach.after(cursor)
    if start is not None:
        query = query.where(CorrectionRequest.id > start)
    query = query.order_by(CorrectionRequest.id).limit(limit + 1)
    async with db.read(tenant_id=actor.tenant_id) as session:
        rows = (await session.execute(query)).all()
        items = [
            QueueItemOut(
                id=row.id,
                beneficiary_id=row.beneficiary_id,
                reference=reference,
                field=row.field,
                region_code=row.region_code,
                created_at=row.created_at,
            )
            for row, reference in rows[:limit]
        ]
    more = len(rows) > limit
    return QueuePageOut(items=items, next_cursor=str(items[-1].id) if more else None)


async def get_for_review(*, db: Database, actor: Actor, correction_id: uuid.UUID) -> ReviewOut:
    """A request with the record's present value, for an approver (an audited read)."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        row, beneficiary = await corrections.for_approver(uow, actor, correction_id)
        document = await corrections.document_of(uow, row)
        await reach.record(
            uow,
            actor,
            "beneficiary.correction_viewed",
            beneficiary.id,
            {"correction_id": str(row.id)},
        )
        return ReviewOut(
            request=corrections.view(row),
            reference=beneficiary.reference,
            given_name=beneficiary.given_name or "",
            family_name=beneficiary.family_name,
            present=values.current(beneficiary, row.field, document),
            held_elsewhere=await corrections.held_elsewhere(uow, row, beneficiary),
        )
