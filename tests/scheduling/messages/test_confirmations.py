"""Booking, rescheduling and cancelling tell the person, in their language, with the code."""

from __future__ import annotations

import uuid

from tests.notifications.dispatch_support import redeliver_all
from tests.notifications.peers import Mailbox, RunningHttpPeer
from tests.scheduling.messages.support import (
    book,
    finish,
    mails,
    messages,
    person,
    session_at,
    settle,
    texts,
)
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PHONE = "+15145550123"


async def test_a_booking_is_confirmed_by_sms_in_the_persons_language_and_time_zone(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    someone = await person(clean_db, tenant, phone=PHONE, locale="fr")
    booked = await book(clean_db, tenant, seeded.slot_ids[0], someone)

    await settle(clean_db, cache, fast)

    [(to, text)] = texts(http_peer)
    assert to == PHONE
    assert text == (
        "Vaccination réservée : mardi 4 juin 2030, 10:00, Centre de santé de Hillcrest. "
        f"Code de réservation {booked.booking_code} : présentez-le à votre arrivée."
    )
    [confirmation] = await messages(clean_db, tenant, "appointment_booked")
    assert (confirmation.status, confirmation.subject_id, confirmation.locale) == (
        "sent",
        someone,
        "fr",
    )


async def test_a_person_with_an_email_only_gets_the_confirmation_by_email_with_the_address(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, _ = smtp_server
    seeded = await session_at(clean_db, tenant, centre)
    someone = await person(clean_db, tenant, email="ada@example.org", locale="en")
    booked = await book(clean_db, tenant, seeded.slot_ids[1], someone)

    await settle(clean_db, cache, fast)

    [(to, subject, text)] = mails(mailbox)
    assert to == ["ada@example.org"]
    assert subject == "Vaccination appointment booked: Tuesday, June 4, 2030, 10:10 AM"
    assert "Where: Hillcrest Health Centre, 12 Main Street, Hillcrest Town" in text
    assert f"Booking code: {booked.booking_code}" in text


async def test_an_event_delivered_twice_sends_one_confirmation(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    await book(clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE))
    await settle(clean_db, cache, fast)

    await redeliver_all(clean_db)  # (the reminder's send becomes due too)
    await settle(clean_db, cache, fast)

    sent = [text for _, text in texts(http_peer)]
    assert [t.split(":")[0] for t in sent] == ["Vaccination booked", "Reminder"]
    assert [m.event for m in await messages(clean_db, tenant)] == [
        "appointment_booked",
        "appointment_reminder",
    ]


async def test_a_reschedule_sends_the_new_code_and_no_cancellation(
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

    sent = [text for _, text in texts(http_peer)]
    assert len(sent) == 2
    assert sent[1] == (
        "Vaccination moved to Tuesday, June 4, 2030, 10:10 AM, Hillcrest Health Centre. "
        f"New booking code {moved.booking_code}."
    )
    assert await messages(clean_db, tenant, "appointment_cancelled") == []


async def test_a_cancellation_is_confirmed_with_the_code(
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
    await finish(clean_db, tenant, booked, "cancelled", "appointment.cancelled")

    await settle(clean_db, cache, fast)

    # Cancelled before the worker ran: no confirmation of a booking that no longer holds.
    assert [text for _, text in texts(http_peer)] == [
        "Your vaccination appointment of Tuesday, June 4, 2030, 10:00 AM "
        f"(code {booked.booking_code}) is cancelled."
    ]


async def test_a_person_nobody_can_reach_gets_nothing_and_nothing_fails(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
    smtp_server: tuple[Mailbox, int],
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    walk_in = await person(clean_db, tenant)  # no phone, no e-mail, no account
    await book(clean_db, tenant, seeded.slot_ids[0], walk_in)

    await settle(clean_db, cache, fast)

    assert texts(http_peer) == []
    assert smtp_server[0].messages == []
    assert {(m.status, m.reason) for m in await messages(clean_db, tenant)} == {
        ("cancelled", "no_destination")
    }
