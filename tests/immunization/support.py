"""Test data for dose records: lots, people at a centre, the rows a recording leaves."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from tests.scheduling.booking.support import add_people
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.outbox import OutboxEvent
from vaxport.immunization.models import Dose, Lot
from vaxport.registration.models import Beneficiary
from vaxport.tenancy.schemas import TenantInfo


async def add_lot(
    db: Database,
    tenant: TenantInfo,
    product_id: str,
    number: str,
    *,
    expires_on: dt.date | None = None,
    on_hold: bool = False,
) -> uuid.UUID:
    """A lot row, straight into the table (lot registration is another use case)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = Lot(
            tenant_id=tenant.id,
            product_id=product_id,
            lot_number=number,
            manufacturer="Demoland Biologics",
            expires_on=expires_on or dt.date.today() + dt.timedelta(days=365),
            on_hold=on_hold,
        )
        uow.session.add(row)
    return row.id


async def person_at(
    db: Database, tenant: TenantInfo, centre: uuid.UUID, **kwargs: Any
) -> uuid.UUID:
    """A walk-in registered at ``centre`` (its staff reach them)."""
    [person_id] = await add_people(db, tenant, 1, facility_id=centre, **kwargs)
    return person_id


def body(person_id: uuid.UUID, **over: Any) -> dict[str, Any]:
    """A dose of covid-mrna from lot EX1234, given now in the left arm."""
    return {
        "beneficiary_id": str(person_id),
        "product_id": "covid-mrna",
        "lot_number": "ex1234 ",
        "site": "left-arm",
        "route": "IM",
    } | over


def doses_url(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/doses"


def history_url(tenant: TenantInfo, person_id: uuid.UUID) -> str:
    return f"/api/v1/{tenant.code}/beneficiaries/{person_id}/doses"


async def doses(db: Database, tenant: TenantInfo) -> list[Dose]:
    """The tenant's dose rows, oldest first."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = list(
            await s.scalars(select(Dose).where(Dose.tenant_id == tenant.id).order_by(Dose.id))
        )
        for row in rows:
            _ = (row.notes, row.override_reason)  # decrypted while the session is open
            s.expunge(row)
        return rows


async def vaccinated_at(db: Database, tenant: TenantInfo, person_id: uuid.UUID) -> Any:
    async with db.read(tenant_id=tenant.id) as s:
        return await s.scalar(select(Beneficiary.vaccinated_at).where(Beneficiary.id == person_id))


async def events(db: Database, tenant: TenantInfo, event_type: str) -> list[dict[str, Any]]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.id)  # uuid7: the order they were emitted in
        )
        return [dict(p) for p in rows]


async def audited(db: Database, tenant: TenantInfo, action: str) -> list[AuditEntry]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = list(
            await s.scalars(
                select(AuditEntry)
                .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action == action)
                .order_by(AuditEntry.id)  # uuid7: the order they were written in
            )
        )
        s.expunge_all()
        return rows
