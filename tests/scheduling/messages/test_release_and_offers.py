"""A cancelled session offers its people to book again; a waitlist seat is offered."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update

from tests.notifications.dispatch_support import fast_forward
from tests.notifications.peers import RunningHttpPeer
from tests.scheduling.messages.support import (
    book,
    finish,
    messages,
    person,
    session_at,
    settle,
    texts,
)
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.scheduling.events import APPOINTMENT_RELEASED, SESSION_CANCELLED, session_event
from vaxport.scheduling.models import Appointment
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PUBLIC = "https://vaccination.health.example"
PHONES = ("+15145550101", "+15145550102")


async def test_a_cancelled_session_tells_each_person_with_a_link_to_book_again(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    settings = fast.model_copy(update={"public_url": PUBLIC + "/"})
    seeded = await session_at(clean_db, tenant, centre)
    first = await book(
        clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONES[0])
    )
    second = await book(
        clean_db,
        tenant,
        seeded.slot_ids[1],
        await person(clean_db, tenant, phone=PHONES[1], locale="fr"),
    )
    await settle(clean_db, cache, settings)
    http_peer.peer.requests.clear()

    # The session's cancellation releases its appointments and emits one summary.
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        from vaxport.scheduling.appointments import end

        for appointment in (first, second):
            assert await end(uow, appointment, "released", reason="session_cancelled")
        await session_event(uow, SESSION_CANCELLED, seeded.session_id)
    await settle(clean_db, cache, settings)

    link = f"{PUBLIC}/{tenant.code}/slots"
    assert sorted(texts(http_peer)) == [
        (
            PHONES[0],
            "The centre cancelled your vaccination of Tuesday, June 4, 2030, 10:00 AM "
            f"(Hillcrest Health Centre). Please book again: {link}",
        ),
        (
            PHONES[1],
            "Le centre a annulé votre vaccination du mardi 4 juin 2030, 10:10 (Centre de "
            f"santé de Hillcrest). Réservez à nouveau : {link}",
        ),
    ]
    reminders = await messages(clean_db, tenant, "appointment_reminder")
    assert {(m.status, m.reason) for m in reminders} == {("cancelled", "withdrawn")}


async def test_a_released_appointment_event_and_its_session_summary_send_one_message(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    booked = await book(
        clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONES[0])
    )
    await finish(clean_db, tenant, booked, "released", APPOINTMENT_RELEASED)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await session_event(uow, SESSION_CANCELLED, seeded.session_id)

    await settle(clean_db, cache, fast)

    assert [m.event for m in await messages(clean_db, tenant)] == ["appointment_released"]
    assert len(texts(http_peer)) == 1


async def test_a_held_seat_is_offered_at_once_with_its_deadline(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    settings = fast.model_copy(update={"public_url": PUBLIC})
    seeded = await session_at(clean_db, tenant, centre)
    until = dt.datetime(2030, 6, 3, 2, 30, tzinfo=dt.UTC)  # 22:30 the evening before
    held = await book(
        clean_db,
        tenant,
        seeded.slot_ids[0],
        await person(clean_db, tenant, phone=PHONES[0], locale="fr"),
        hold_until=until,
    )

    await settle(clean_db, cache, settings)

    [(_, text)] = texts(http_peer)
    assert text == (
        "Une place de vaccination vous est réservée : mardi 4 juin 2030, 10:00, Centre de "
        "santé de Hillcrest. Acceptez-la avant le dimanche 2 juin 2030, 22:30 : "
        f"{PUBLIC}/{tenant.code}/appointments/{held.id}"
    )
    assert held.booking_code not in text  # not booked yet: the code comes with acceptance
    [offer] = await messages(clean_db, tenant, "appointment_offer")
    assert offer.urgent  # a hold outlives no quiet hours


async def test_an_offer_whose_hold_ended_before_it_was_sent_is_dropped(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    held = await book(
        clean_db,
        tenant,
        seeded.slot_ids[0],
        await person(clean_db, tenant, phone=PHONES[0]),
        hold_until=utcnow() + dt.timedelta(hours=2),
    )
    await settle(clean_db, cache, fast, rounds=1)  # queued, not sent yet
    await finish(clean_db, tenant, held, "cancelled", None)  # expired in a sweep

    await settle(clean_db, cache, fast)

    [offer] = await messages(clean_db, tenant, "appointment_offer")
    assert (offer.status, offer.reason) == ("cancelled", "no_longer_relevant")
    assert texts(http_peer) == []


async def test_the_reminder_of_an_offer_goes_out_only_if_it_was_accepted(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    hold = utcnow() + dt.timedelta(hours=2)
    taken = await book(
        clean_db,
        tenant,
        seeded.slot_ids[0],
        await person(clean_db, tenant, phone=PHONES[0]),
        hold_until=hold,
    )
    await book(
        clean_db,
        tenant,
        seeded.slot_ids[1],
        await person(clean_db, tenant, phone=PHONES[1]),
        hold_until=hold,
    )
    await settle(clean_db, cache, fast)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:  # the first one accepts
        await uow.session.execute(
            update(Appointment)
            .where(Appointment.id == taken.id)
            .values(status="booked", hold_expires_at=None, version=Appointment.version + 1)
        )

    await fast_forward(clean_db)
    await settle(clean_db, cache, fast)

    reminders = await messages(clean_db, tenant, "appointment_reminder")
    assert sorted((m.status, m.reason) for m in reminders) == [
        ("cancelled", "no_longer_relevant"),
        ("sent", None),
    ]
    assert [to for to, text in texts(http_peer) if text.startswith("Reminder")] == [PHONES[0]]
