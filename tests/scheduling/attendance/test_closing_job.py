"""The worker closes a session once its day is over, as staff would, and only once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import select

from tests.registration.conftest import make_facility
from tests.registration.review.review_support import events
from tests.scheduling.attendance.support import (
    audited,
    book,
    session_status,
    session_today,
    statuses,
    today,
)
from tests.scheduling.conftest import REGION
from tests.support.tenants import load_tenant
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.scheduling.appointments import end
from vaxport.scheduling.attendance import closing
from vaxport.scheduling.fairness import jobs
from vaxport.scheduling.models import Appointment
from vaxport.tenancy.schemas import TenantInfo


async def _seen(db: Database, tenant: TenantInfo, appointment_id: uuid.UUID) -> None:
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await uow.session.get(Appointment, appointment_id)
        assert row is not None
        assert await end(uow, row, "completed")


async def test_a_session_of_yesterday_is_closed_by_one_round_and_a_second_changes_nothing(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    yesterday = await session_today(
        clean_db, tenant, centre, day=today(tenant) - dt.timedelta(days=1)
    )
    current = await session_today(clean_db, tenant, centre)
    missed = [await book(clean_db, tenant, yesterday.slot_ids[0], given_name=n) for n in "AB"]
    seen = await book(clean_db, tenant, yesterday.slot_ids[1], given_name="Seen")
    await _seen(clean_db, tenant, seen.appointment_id)
    expected_today = await book(clean_db, tenant, current.slot_ids[0], given_name="Today")

    first = await jobs.run_once(db=clean_db)

    assert first.sessions_closed == 1
    now = await statuses(clean_db, tenant)
    assert [now[m.appointment_id] for m in missed] == ["no_show", "no_show"]
    assert now[seen.appointment_id] == "completed"
    assert now[expected_today.appointment_id] == "booked"
    assert await session_status(clean_db, tenant, yesterday.session_id) == "closed"
    assert await session_status(clean_db, tenant, current.session_id) == "open"
    # As the manual close: its events (the messages' subscriber withdraws reminders from
    # them) and its audit entries, written by the system.
    assert [p["session_id"] for _, p in await events(clean_db, tenant, "session.closed")] == [
        str(yesterday.session_id)
    ]
    assert len(await events(clean_db, tenant, "appointment.no_show")) == 2
    [closed] = await audited(clean_db, tenant, "session.attendance_closed")
    assert (closed.object_id, closed.actor_id, closed.details["no_shows"]) == (
        str(yesterday.session_id),
        None,
        2,
    )
    async with clean_db.read(tenant_id=tenant.id) as s:
        roles = set(
            await s.scalars(
                select(AuditEntry.actor_role).where(
                    AuditEntry.action.in_(("session.attendance_closed", "appointment.no_show"))
                )
            )
        )
    assert roles == {"system"}

    second = await jobs.run_once(db=clean_db)

    assert second.sessions_closed == 0
    assert await statuses(clean_db, tenant) == now
    assert len(await events(clean_db, tenant, "session.closed")) == 1
    assert len(await audited(clean_db, tenant, "session.attendance_closed")) == 1


async def test_two_workers_closing_at_once_close_a_session_once(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    day = today(tenant) - dt.timedelta(days=1)
    seeded = await session_today(clean_db, tenant, centre, day=day, seats=10)
    for n in range(6):
        await book(clean_db, tenant, seeded.slot_ids[n % 2], given_name=f"P{n}")

    closed = await asyncio.gather(
        *(closing.close_ended(db=clean_db, tenant=tenant) for _ in range(2))
    )

    assert sorted(closed) == [0, 1]
    assert set((await statuses(clean_db, tenant)).values()) == {"no_show"}
    assert len(await events(clean_db, tenant, "appointment.no_show")) == 6
    assert len(await events(clean_db, tenant, "session.closed")) == 1
    assert len(await audited(clean_db, tenant, "session.attendance_closed")) == 1


async def test_a_tenant_may_leave_its_sessions_open_for_more_days(
    clean_db: Database, cache: Cache
) -> None:
    booking = {"days_ahead": 28, "cancel_cutoff_hours": 2, "slot_minutes": 10}
    patient = await load_tenant(
        clean_db, cache, changes={"booking": {**booking, "close_sessions_after_days": 2}}
    )
    here = await make_facility(clean_db, cache, patient, code="P-1", region_code=REGION)
    local = today(patient)
    one = await session_today(clean_db, patient, here, day=local - dt.timedelta(days=1))
    two = await session_today(clean_db, patient, here, day=local - dt.timedelta(days=2))

    assert await closing.close_ended(db=clean_db, tenant=patient) == 1
    assert await session_status(clean_db, patient, one.session_id) == "open"
    assert await session_status(clean_db, patient, two.session_id) == "closed"
