"""Appointment messages carry what the person needs and no more, and the log carries none
of it: no number, address, name or booking code through a whole appointment's life."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.notifications.dispatch_support import fast_forward
from tests.notifications.peers import Mailbox, RunningHttpPeer
from tests.scheduling.messages.support import (
    book,
    finish,
    holder,
    mails,
    person,
    session_at,
    settle,
    texts,
)
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.logging import configure_logging
from vaxport.notifications.models import Message
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PHONE = "+15145550166"
HOLDER_PHONE = "+15145550155"
EMAIL = "fatou.diallo@example.org"
NAMES = ("Fatou", "Aminata", "Moussa", "Lovelace")


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, rendered as in production."""
    configure_logging(level="DEBUG", json=True)
    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)
    handler.addFilter(lambda record: not record.name.startswith("mail.log"))  # the test's server
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)
    configure_logging(level="INFO", json=True)


async def test_an_appointments_messages_leave_no_personal_data_in_the_log(
    captured_log: io.StringIO,
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
    smtp_server: tuple[Mailbox, int],
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    adult = await person(clean_db, tenant, phone=PHONE, given_name="Fatou")
    by_mail = await person(clean_db, tenant, email=EMAIL, given_name="Aminata")
    account = await holder(clean_db, tenant, phone=HOLDER_PHONE)
    child = await person(clean_db, tenant, account_id=account, given_name="Moussa")
    first = await book(clean_db, tenant, seeded.slot_ids[0], adult)
    second = await book(clean_db, tenant, seeded.slot_ids[1], by_mail)
    third = await book(clean_db, tenant, seeded.slot_ids[0], child, account_id=account)
    await settle(clean_db, cache, fast)
    moved = await book(clean_db, tenant, seeded.slot_ids[1], adult, replaces=first)
    await finish(clean_db, tenant, second, "cancelled", "appointment.cancelled")
    await settle(clean_db, cache, fast)
    await fast_forward(clean_db)  # the reminders' day
    await settle(clean_db, cache, fast)

    sent = [text for _, text in texts(http_peer)] + [text for _, _, text in mails(smtp_server[0])]
    assert len(sent) == 7  # 3 confirmations, a change, a cancellation, 2 reminders
    log = captured_log.getvalue()
    assert "scheduling.message_queued" in log  # it was captured
    for value in (PHONE, HOLDER_PHONE, EMAIL, PHONE[2:], HOLDER_PHONE[2:], *NAMES):
        assert value not in log, value
    # Booking codes are stored in clear (staff look people up by them): the SQL driver's
    # own DEBUG trace of statement parameters shows them, vaxport's records never do.
    ours = "\n".join(line for line in log.splitlines() if '"logger": "aiosqlite"' not in line)
    for code in (a.booking_code for a in (first, second, third, moved)):
        assert code not in ours, code
    for text in sent:
        assert not any(name in text for name in NAMES)


async def test_a_waiting_reminder_holds_only_the_values_it_shows(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    seeded = await session_at(clean_db, tenant, centre)
    await book(clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE))
    await settle(clean_db, cache, fast)

    async with clean_db.read(tenant_id=tenant.id) as session:
        reminder = await session.scalar(
            select(Message).where(
                Message.tenant_id == tenant.id, Message.event == "appointment_reminder"
            )
        )
        assert reminder is not None
        assert set(reminder.data or {}) == {"code", "place", "address", "date", "time"}
        assert reminder.data_enc is not None  # stored encrypted until sent
