"""Test data for booking: people in bulk, doses given, actors, and the seat counts to check."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from tests.identity.helpers import actor_for
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.ids import short_code, uuid7
from vaxport.identity.service import Actor
from vaxport.immunization.models import Dose
from vaxport.registration.models import Beneficiary
from vaxport.scheduling.models import Appointment, Slot
from vaxport.tenancy.schemas import TenantInfo

ADULT = dt.date(1985, 12, 10)
# Far enough ahead for any cutoff, close enough for the demo's 28 days of booking.
DAY = dt.date.today() + dt.timedelta(days=5)


async def add_people(
    db: Database,
    tenant: TenantInfo,
    count: int,
    *,
    account_id: uuid.UUID | None = None,
    region_code: str = REGION,
    facility_id: uuid.UUID | None = None,
    birth_date: dt.date = ADULT,
) -> list[uuid.UUID]:
    """``count`` people (name and birth date encrypted as registration does), one
    transaction; their ids."""
    ids = [uuid7() for _ in range(count)]
    async with db.transaction(tenant_id=tenant.id) as uow:
        for n, person_id in enumerate(ids):
            person = Beneficiary(
                id=person_id,
                tenant_id=tenant.id,
                account_id=account_id,
                reference=short_code(8),
                status="active",
                birth_year=birth_date.year,
                sex="female",
                region_code=region_code,
                facility_id=facility_id,
                created_via="self" if account_id else "staff",
                version=1,
            )
            person.given_name = f"Person{n}"
            person.birth_date = birth_date
            uow.session.add(person)
    return ids


def national(tenant: TenantInfo) -> Actor:
    """A national administrator (reaches everyone of the tenant)."""
    return actor_for(tenant, "national_admin")


def citizen(tenant: TenantInfo, account_id: uuid.UUID) -> Actor:
    """The citizen holding ``account_id``."""
    return actor_for(tenant, "citizen", account_id=account_id, kind="citizen")


async def slot(
    db: Database,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    *,
    day: dt.date = DAY,
    seats: int = 10,
    product_id: str = "covid-mrna",
    dose_numbers: tuple[int, ...] = (1, 2),
    slots: int = 1,
) -> list[uuid.UUID]:
    """Open slot(s) of a session at ``facility_id``."""
    seeded = await open_session(
        db,
        tenant.id,
        facility_id,
        region_code=REGION,
        day=day,
        seats=seats,
        product_id=product_id,
        dose_numbers=dose_numbers,
        slots=slots,
    )
    return list(seeded.slot_ids)


async def given(
    db: Database,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    product_id: str,
    day: dt.date,
    dose_number: int = 1,
    series: str = "covid-19",
    status: str = "completed",
) -> uuid.UUID:
    """An appointment of ``person_id`` on ``day`` in ``status``, written straight to the
    tables with its own session; its id. ``completed`` also records the dose given (a
    completed appointment alone is not a dose: :func:`record_given`)."""
    [slot_id] = await slot(db, tenant, facility_id, day=day, product_id=product_id)
    async with db.transaction(tenant_id=tenant.id) as uow:
        taken = await uow.session.get(Slot, slot_id)
        assert taken is not None
        if status in ("booked", "held"):
            taken.booked += 1
        row = Appointment(
            id=uuid7(),
            tenant_id=tenant.id,
            beneficiary_id=person_id,
            slot_id=slot_id,
            session_id=taken.session_id,
            facility_id=facility_id,
            region_code=REGION,
            product_id=product_id,
            series=series,
            dose_number=dose_number,
            day=day,
            starts_at=taken.starts_at,
            booking_code=short_code(8),
            status=status,
            version=1,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        uow.session.add(row)
    if status == "completed":
        await record_given(
            db, tenant, facility_id, person_id, product_id=product_id, day=day,
            dose_number=dose_number, series=series, appointment_id=row.id,
        )  # fmt: skip
    return row.id


async def record_given(
    db: Database,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    product_id: str,
    day: dt.date,
    dose_number: int = 1,
    series: str = "covid-19",
    appointment_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A dose record of ``person_id`` given on ``day``, straight into immunization's table
    (the person's history as scheduling reads it); its id."""
    at = dt.datetime.combine(day, dt.time(10, 0), tzinfo=dt.UTC)
    async with db.transaction(tenant_id=tenant.id) as uow:
        dose = Dose(
            id=uuid7(),
            tenant_id=tenant.id,
            beneficiary_id=person_id,
            product_id=product_id,
            series=series,
            dose_number=dose_number,
            administered_at=at,
            day=day,
            facility_id=facility_id,
            region_code=REGION,
            appointment_id=appointment_id,
        )
        uow.session.add(dose)
    return dose.id


async def seats(db: Database, tenant_id: uuid.UUID, slot_ids: Sequence[uuid.UUID]) -> list[int]:
    """Each slot's ``booked`` counter."""
    async with db.read(tenant_id=tenant_id) as s:
        rows = dict(
            (await s.execute(select(Slot.id, Slot.booked).where(Slot.id.in_(slot_ids)))).all()
        )
    return [rows[i] for i in slot_ids]


async def live(db: Database, tenant_id: uuid.UUID, slot_ids: Sequence[uuid.UUID]) -> list[int]:
    """Each slot's live appointments."""
    async with db.read(tenant_id=tenant_id) as s:
        rows = dict(
            (
                await s.execute(
                    select(Appointment.slot_id, func.count())
                    .where(
                        Appointment.slot_id.in_(slot_ids),
                        Appointment.status.in_(("booked", "held")),
                    )
                    .group_by(Appointment.slot_id)
                )
            ).all()
        )
    return [rows.get(i, 0) for i in slot_ids]
