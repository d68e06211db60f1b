"""Who received a lot: the people given a dose from it, for a recall or a safety review.

National and regional admins only (``lots:write``), and only the doses in their reach
(a regional admin sees the recipients in their region subtree). The list names people:
each page read is audited as a personal-data read.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vaxport.core import audit
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.identity.service import Actor, Resource, authorize
from vaxport.immunization.lots.schemas import RecipientOut, RecipientPage, RecipientsQuery
from vaxport.immunization.lots.service import BAD_CURSOR, LOT_NOT_FOUND, find_lot
from vaxport.immunization.models import Dose
from vaxport.immunization.scope import staff_filter
from vaxport.tenancy.service import TenantInfo


async def list_recipients(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    lot_id: uuid.UUID,
    query: RecipientsQuery,
) -> RecipientPage:
    """The recorded doses of the lot in the actor's reach, oldest first; audited."""
    authorize(actor, "lots:write", Resource(tenant_id=tenant.id), what="lot")
    stmt = select(Dose).where(
        Dose.tenant_id == tenant.id,
        Dose.lot_id == lot_id,
        Dose.status == "recorded",
        staff_filter(actor, Dose),
    )
    if query.cursor is not None:
        try:
            after = uuid.UUID(query.cursor)
        except ValueError as exc:
            raise invalid("cursor", BAD_CURSOR) from exc
        stmt = stmt.where(Dose.id > after)
    stmt = stmt.order_by(Dose.id).limit(query.limit + 1)
    async with db.transaction(tenant_id=tenant.id) as uow:
        if await find_lot(uow.session, tenant.id, lot_id=lot_id) is None:
            raise NotFound(LOT_NOT_FOUND)
        rows = list(await uow.session.scalars(stmt))
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        await audit.record(
            uow,
            by=actor.principal,
            action="lot.recipients.read",
            object_type="lot",
            object_id=lot_id,
            details={"count": len(rows), "first_page": query.cursor is None},
        )
        items = [
            RecipientOut(
                dose_id=d.id,
                beneficiary_id=d.beneficiary_id,
                dose_number=d.dose_number,
                administered_at=d.administered_at,
                region_code=d.region_code,
                facility_id=d.facility_id,
            )
            for d in rows
        ]
    return RecipientPage(items=items, next_cursor=str(rows[-1].id) if more and rows else None)
