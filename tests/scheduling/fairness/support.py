"""Test data of the fairness tests: released sessions, people, the worker run once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import func, select, update

from tests.registration.review.review_support import add_person
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import Seeded, open_session
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import Subscriptions, Worker
from vaxport.scheduling.fairness.jobs import SUBSCRIBERS
from vaxport.scheduling.models import LIVE_STATUSES, Appointment, Session, Slot
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

DAY = dt.date.today() + dt.timedelta(days=3)
# The demo tenant's defaults (no booking.fairness in its file).
WINDOW = dt.timedelta(seconds=300)
HOLD = dt.timedelta(minutes=30)


async def released_session(
    db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    *,
    release_at: dt.datetime | None = None,
    slots: int = 1,
    seats: int = 10,
    day: dt.date = DAY,
    dose_numbers: tuple[int, ...] = (1, 2),
) -> Seeded:
    """An open session whose booking opened ``release_at`` (a minute ago by default)."""
    seeded = await open_session(
        db,
        tenant.id,
        centre,
        region_code=REGION,
        day=day,
        slots=slots,
        seats=seats,
        dose_numbers=dose_numbers,
    )
    async with db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Session)
            .where(Session.id == seeded.session_id)
            .values(release_at=release_at or utcnow() - dt.timedelta(minutes=1))
        )
    return seeded


async def people(
    db: Database,
    tenant: TenantInfo,
    n: int,
    *,
    account_id: uuid.UUID | None = None,
    birth_date: dt.date = dt.date(1980, 5, 17),
    region_code: str = REGION,
) -> list[uuid.UUID]:
    """``n`` adults registered in ``region_code`` (of ``account_id`` when given)."""
    return [
        await add_person(
            db, tenant, account_id=account_id, region_code=region_code, birth_date=birth_date
        )
        for _ in range(n)
    ]


async def seats_and_owners(
    db: Database, tenant: TenantInfo, slot_ids: tuple[uuid.UUID, ...]
) -> tuple[int, int]:
    """``(sum of the slots' booked counters, live appointments in them)``."""
    async with db.read(tenant_id=tenant.id) as s:
        booked = (
            await s.execute(select(func.sum(Slot.booked)).where(Slot.id.in_(slot_ids)))
        ).scalar_one()
        live = (
            await s.execute(
                select(func.count())
                .select_from(Appointment)
                .where(Appointment.slot_id.in_(slot_ids), Appointment.status.in_(LIVE_STATUSES))
            )
        ).scalar_one()
    return int(booked or 0), int(live)


async def deliver(db: Database, cache: Cache, settings: Settings) -> int:
    """Run the waitlist's subscriber on every event due now (the worker, once)."""
    worker = Worker(db, cache, settings, subscriptions=Subscriptions(SUBSCRIBERS))
    return await worker.run(asyncio.Event(), once=True)


async def appointment(db: Database, tenant: TenantInfo, appointment_id: uuid.UUID) -> Appointment:
    """An appointment row as it is now."""
    async with db.read(tenant_id=tenant.id) as s:
        row = await s.scalar(select(Appointment).where(Appointment.id == appointment_id))
        assert row is not None
        s.expunge(row)  # kept as read: the read's rollback would expire it
    return row
