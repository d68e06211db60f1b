"""People, bookings and a real worker for the appointment-message tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from tests.notifications.peers import Mailbox, RunningHttpPeer
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import Seeded, open_session
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.ids import short_code, uuid7
from vaxport.core.outbox import DEAD, OutboxDelivery, Worker
from vaxport.identity.models import Account
from vaxport.notifications.models import Message
from vaxport.registration.models import Beneficiary
from vaxport.scheduling.appointments import Seat, book_in, end
from vaxport.scheduling.models import Appointment
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

# 14:00 UTC on a Tuesday in June: 10:00 in the demo country (America/Toronto, EDT).
DAY = dt.date(2030, 6, 4)


async def holder(db: Database, tenant: TenantInfo, *, phone: str) -> uuid.UUID:
    """A citizen account (what the one-time-code login creates); its id."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        account = Account(tenant_id=tenant.id, kind="citizen", role="citizen", token_version=1)
        account.phone = phone
        uow.session.add(account)
        await uow.session.flush()
        return account.id


async def person(
    db: Database,
    tenant: TenantInfo,
    *,
    phone: str | None = None,
    email: str | None = None,
    locale: str | None = "en",
    account_id: uuid.UUID | None = None,
    given_name: str = "Ada",
) -> uuid.UUID:
    """A registered person with these contact details; their id."""
    person_id = uuid7()
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = Beneficiary(
            id=person_id,
            tenant_id=tenant.id,
            account_id=account_id,
            reference=short_code(8),
            status="active",
            birth_year=1985,
            sex="female",
            region_code=REGION,
            created_via="self" if account_id else "walk_in",
            preferred_locale=locale,
            version=1,
        )
        row.given_name = given_name
        row.family_name = "Lovelace"
        row.phone = phone
        row.email = email
        uow.session.add(row)
    return person_id


async def session_at(
    db: Database, tenant: TenantInfo, centre: uuid.UUID, *, day: dt.date = DAY, slots: int = 2
) -> Seeded:
    """An open session of ``slots`` ten-minute slots from 14:00 UTC on ``day``."""
    return await open_session(db, tenant.id, centre, region_code=REGION, day=day, slots=slots)


async def book(
    db: Database,
    tenant: TenantInfo,
    slot_id: uuid.UUID,
    beneficiary_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    hold_until: dt.datetime | None = None,
    replaces: Appointment | None = None,
) -> Appointment:
    """Book (or hold) a seat, as booking does: with a reschedule, the old appointment ends
    as ``cancelled`` in the same transaction."""
    seat = Seat(beneficiary_id, account_id, "covid-19", 1, None)
    async with db.transaction(tenant_id=tenant.id) as uow:
        if replaces is not None:
            assert await end(uow, replaces, "cancelled", event="appointment.cancelled")
        row = await book_in(
            uow,
            tenant.id,
            slot_id,
            seat,
            hold_until=hold_until,
            replaces_id=replaces.id if replaces else None,
        )
        assert row is not None
        uow.session.expunge(row)
    return row


async def finish(
    db: Database, tenant: TenantInfo, appointment: Appointment, status: str, event: str | None
) -> None:
    """End an appointment as the context does (``event`` None: a bulk end emits none)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        assert await end(uow, appointment, status, event=event)


async def settle(db: Database, cache: Cache, settings: Settings, *, rounds: int = 5) -> None:
    """Run a real worker with every subscriber of the application until nothing is due
    (appointment events -> messages -> sends; ``rounds=1``: the first step only); no
    delivery may have failed."""
    worker = Worker(
        db, cache, settings, subscriptions=wiring.event_subscriptions(), worker_id="messages-test"
    )
    for _ in range(rounds):
        if not await worker.run(asyncio.Event(), once=True):
            break
    async with db.read() as session:
        dead = (
            await session.execute(
                select(OutboxDelivery.subscriber, OutboxDelivery.last_error).where(
                    OutboxDelivery.state == DEAD
                )
            )
        ).all()
        failing = (
            await session.execute(
                select(OutboxDelivery.subscriber, OutboxDelivery.last_error).where(
                    OutboxDelivery.last_error.is_not(None)
                )
            )
        ).all()
    assert not dead, dead
    assert not failing, failing


@dataclass(frozen=True)
class Queued:
    """A message row as the tests look at it."""

    id: uuid.UUID
    event: str
    status: str
    reason: str | None
    subject_id: uuid.UUID | None
    locale: str | None
    to_phone: str | None
    to_email: str | None
    due_at: dt.datetime
    urgent: bool


async def messages(db: Database, tenant: TenantInfo, event: str | None = None) -> list[Queued]:
    """The tenant's messages (of ``event``), oldest first."""
    async with db.read(tenant_id=tenant.id) as session:
        query = select(Message).where(Message.tenant_id == tenant.id).order_by(Message.id)
        if event is not None:
            query = query.where(Message.event == event)
        rows = (await session.scalars(query)).all()
        return [
            Queued(
                m.id,
                m.event,
                m.status,
                m.status_reason,
                m.subject_id,
                m.locale,
                m.to_phone,
                m.to_email,
                m.due_at,
                m.urgent,
            )
            for m in rows
        ]


def texts(peer: RunningHttpPeer) -> list[tuple[str, str]]:
    """(number, text) of every SMS the gateway received."""
    return [(r.json()["to"], r.json()["text"]) for r in peer.peer.requests]


def mails(mailbox: Mailbox) -> list[tuple[list[str], str, str]]:
    """(recipients, subject, plain text) of every e-mail the SMTP server received."""
    out = []
    for received in mailbox.messages:
        parsed = email.message_from_bytes(received.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        assert body is not None
        out.append((received.rcpt_tos, str(parsed["Subject"]), str(body.get_content())))
    return out
