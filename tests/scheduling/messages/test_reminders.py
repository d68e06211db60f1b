"""A reminder the day before, withdrawn or dropped when the appointment changes."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update

from tests.notifications.dispatch_support import fast_forward, pending_delays
from tests.notifications.peers import RunningHttpPeer
from tests.scheduling.conftest import REGION
from tests.scheduling.messages.support import (
    DAY,
    book,
    finish,
    messages,
    person,
    session_at,
    settle,
    texts,
)
from tests.scheduling.seed import open_session
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.scheduling.events import SESSION_CHANGED, session_event
from vaxport.scheduling.messages import REMINDER_LEAD
from vaxport.scheduling.models import Appointment
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PHONE = "+15145550188"
STARTS = dt.datetime.combine(DAY, dt.time(14, 0), tzinfo=dt.UTC)


async def test_a_booking_schedules_a_reminder_for_the_day_before_which_then_goes_out(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    booked = await book(
        clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE)
    )
    await settle(clean_db, cache, fast)

    [reminder] = await messages(clean_db, tenant, "appointment_reminder")
    assert reminder.status == "queued"
    assert reminder.due_at == STARTS - REMINDER_LEAD
    # Its send waits in the outbox until then (nothing polls the messages table).
    [wait] = await pending_delays(clean_db)
    expected = (STARTS - REMINDER_LEAD - utcnow()).total_seconds()
    assert abs(wait - expected) < 60

    await fast_forward(clean_db)
    await settle(clean_db, cache, fast)

    assert texts(http_peer)[-1] == (
        PHONE,
        "Reminder: vaccination Tuesday, June 4, 2030, 10:00 AM, Hillcrest Health Centre. "
        f"Booking code {booked.booking_code}.",
    )
    assert [m.status for m in await messages(clean_db, tenant, "appointment_reminder")] == ["sent"]


async def test_an_appointment_soon_after_booking_gets_no_reminder(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    # Starts in 28 hours: the reminder would be due 4 hours after the confirmation.
    soon = utcnow().replace(second=0, microsecond=0) + dt.timedelta(hours=28)
    seeded = await open_session(
        clean_db, tenant.id, centre, region_code=REGION, day=soon.date(), start=soon.time()
    )
    await book(clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE))

    await settle(clean_db, cache, fast)

    assert [m.event for m in await messages(clean_db, tenant)] == ["appointment_booked"]


async def test_cancelling_withdraws_the_reminder_at_once(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    booked = await book(
        clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE)
    )
    await settle(clean_db, cache, fast)

    await finish(clean_db, tenant, booked, "cancelled", "appointment.cancelled")
    await settle(clean_db, cache, fast)

    [reminder] = await messages(clean_db, tenant, "appointment_reminder")
    assert (reminder.status, reminder.reason) == ("cancelled", "withdrawn")
    await fast_forward(clean_db)
    await settle(clean_db, cache, fast)
    assert [text.split(":")[0] for _, text in texts(http_peer)] == [
        "Vaccination booked",
        "Your vaccination appointment of Tuesday, June 4, 2030, 10",
    ]


async def test_rescheduling_replaces_the_reminder_with_one_for_the_new_time(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    someone = await person(clean_db, tenant, phone=PHONE)
    first = await book(clean_db, tenant, seeded.slot_ids[0], someone)
    await settle(clean_db, cache, fast)
    moved = await book(clean_db, tenant, seeded.slot_ids[1], someone, replaces=first)
    await settle(clean_db, cache, fast)

    old, new = await messages(clean_db, tenant, "appointment_reminder")
    assert (old.status, old.reason) == ("cancelled", "withdrawn")
    assert (new.status, new.due_at) == ("queued", moved.starts_at - REMINDER_LEAD)

    await fast_forward(clean_db)
    await settle(clean_db, cache, fast)
    reminders = [t for _, t in texts(http_peer) if t.startswith("Reminder")]
    assert reminders == [
        "Reminder: vaccination Tuesday, June 4, 2030, 10:10 AM, Hillcrest Health Centre. "
        f"Booking code {moved.booking_code}."
    ]


async def test_a_reminder_for_an_appointment_ended_without_an_event_is_dropped_when_due(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    booked = await book(
        clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE)
    )
    await settle(clean_db, cache, fast)
    # Ended in bulk (a closing session emits one summary, not one event per appointment).
    await finish(clean_db, tenant, booked, "no_show", None)

    await fast_forward(clean_db)
    await settle(clean_db, cache, fast)

    [reminder] = await messages(clean_db, tenant, "appointment_reminder")
    assert (reminder.status, reminder.reason) == ("cancelled", "no_longer_relevant")
    assert len(texts(http_peer)) == 1  # the confirmation only


async def test_a_session_moved_to_another_time_gets_reminders_for_the_new_time_only(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    booked = await book(
        clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE)
    )
    await settle(clean_db, cache, fast)
    later = booked.starts_at + dt.timedelta(hours=2)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Appointment).where(Appointment.id == booked.id).values(starts_at=later)
        )
        await session_event(uow, SESSION_CHANGED, seeded.session_id)
    await settle(clean_db, cache, fast)

    await fast_forward(clean_db)
    await settle(clean_db, cache, fast)

    old, new = await messages(clean_db, tenant, "appointment_reminder")
    assert (old.status, old.reason) == ("cancelled", "no_longer_relevant")
    assert (new.status, new.due_at) == ("sent", later - REMINDER_LEAD)
    assert texts(http_peer)[-1][1].startswith("Reminder: vaccination Tuesday, June 4, 2030, 12:00")
