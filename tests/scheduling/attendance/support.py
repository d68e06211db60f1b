"""The day at a centre, set up for its tests: people booked into seeded sessions.

Sessions come from ``tests/scheduling/seed.py`` and appointments from
``appointments.book_in`` (the one way to make one); people are written straight into
registration's tables with names (``tests/registration/review/review_support.py``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from tests.registration.review.review_support import add_person
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import Seeded, open_session
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in, end
from vaxport.scheduling.models import Appointment, Session, Slot
from vaxport.scheduling.service import local_today
from vaxport.tenancy.schemas import TenantInfo


@dataclass(frozen=True)
class Booked:
    """A person booked: their id, name, and the appointment's id and code."""

    person_id: uuid.UUID
    given_name: str
    appointment_id: uuid.UUID
    code: str


def today(tenant: TenantInfo) -> dt.date:
    """The tenant's today, as the service reckons it."""
    return local_today(tenant)


async def session_today(
    db: Database,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    *,
    day: dt.date | None = None,
    slots: int = 2,
    seats: int = 5,
    region_code: str = REGION,
) -> Seeded:
    """An open session at ``facility_id`` (default: today) of ``slots`` ten-minute slots."""
    return await open_session(
        db,
        tenant.id,
        facility_id,
        region_code=region_code,
        day=day or today(tenant),
        slots=slots,
        seats=seats,
    )


async def book(
    db: Database,
    tenant: TenantInfo,
    slot_id: uuid.UUID,
    *,
    given_name: str,
    dose: int = 1,
    region_code: str = REGION,
) -> Booked:
    """A new person with ``given_name`` booked into ``slot_id`` for ``dose``."""
    person = await add_person(
        db, tenant, given_name=given_name, family_name="Okafor", region_code=region_code
    )
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await book_in(uow, tenant.id, slot_id, Seat(person, None, "covid-19", dose, None))
    assert row is not None, "the slot is full"
    return Booked(person, given_name, row.id, row.booking_code)


async def cancel(db: Database, tenant: TenantInfo, appointment_id: uuid.UUID) -> None:
    """End an appointment as cancelled (the person cancelled it)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await uow.session.get(Appointment, appointment_id)
        assert row is not None
        assert await end(uow, row, "cancelled")


async def statuses(db: Database, tenant: TenantInfo) -> dict[uuid.UUID, str]:
    """Every appointment's status, by id."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(Appointment.id, Appointment.status).where(Appointment.tenant_id == tenant.id)
        )
        return {row[0]: row[1] for row in rows}


async def session_status(db: Database, tenant: TenantInfo, session_id: uuid.UUID) -> str:
    """A session's status."""
    async with db.read(tenant_id=tenant.id) as s:
        status: str = (
            await s.execute(select(Session.status).where(Session.id == session_id))
        ).scalar_one()
        return status


async def seats_taken(db: Database, tenant: TenantInfo, session_id: uuid.UUID) -> int:
    """The session's seats taken, summed over its slots."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.scalars(select(Slot.booked).where(Slot.session_id == session_id))
        return sum(rows)


@dataclass(frozen=True)
class Audited:
    """One audit entry, as the tests look at it."""

    object_type: str
    object_id: str | None
    actor_id: uuid.UUID | None
    request_id: str | None
    details: dict[str, object]


async def audited(db: Database, tenant: TenantInfo, action: str) -> list[Audited]:
    """The tenant's audit entries of ``action``, oldest first."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.scalars(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action == action)
            .order_by(AuditEntry.occurred_at, AuditEntry.id)
        )
        return [
            Audited(e.object_type, e.object_id, e.actor_id, e.request_id, dict(e.details))
            for e in rows
        ]
