"""The appointment core: a seat and its owner commit together, and end together."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import func, select

from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in, end
from vaxport.scheduling.models import Appointment, Slot
from vaxport.tenancy.schemas import TenantInfo

DAY = dt.date.today() + dt.timedelta(days=3)


def _seat() -> Seat:
    return Seat(uuid.uuid4(), None, "covid-19", 1, None)


async def _counts(db: Database, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> tuple[int, int]:
    async with db.read(tenant_id=tenant_id) as s:
        booked = (await s.execute(select(Slot.booked).where(Slot.id == slot_id))).scalar_one()
        live = (
            await s.execute(
                select(func.count())
                .select_from(Appointment)
                .where(Appointment.slot_id == slot_id, Appointment.status.in_(("booked", "held")))
            )
        ).scalar_one()
    return booked, live


async def test_concurrent_bookings_fill_a_slot_exactly_and_no_further(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=DAY, seats=5)
    slot = seeded.slot_ids[0]

    async def one() -> bool:
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            return await book_in(uow, tenant.id, slot, _seat()) is not None

    results = await asyncio.gather(*(one() for _ in range(20)))
    assert results.count(True) == 5
    assert await _counts(clean_db, tenant.id, slot) == (5, 5)


async def test_ending_gives_the_seat_back_once_even_when_two_end_it(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=DAY, seats=2)
    slot = seeded.slot_ids[0]
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        row = await book_in(uow, tenant.id, slot, _seat())
    assert row is not None
    assert len(row.booking_code) == 8
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        assert await end(uow, row, "cancelled", event="appointment.cancelled")
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        assert not await end(uow, row, "cancelled")  # the version it read is gone
    assert await _counts(clean_db, tenant.id, slot) == (0, 0)
